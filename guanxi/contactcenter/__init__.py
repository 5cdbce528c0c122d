"""Contact center: ACD routing, IVR, CTI, agent desktop, wallboard and staffing."""
