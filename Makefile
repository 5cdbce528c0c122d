# The two commands a newcomer needs (see README.md):
#   make demo   install everything and start Guanxi with demo data on SQLite
#   make test   install everything and run the whole test suite (SQLite and PostgreSQL)
.PHONY: demo test install

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

install:
	bash scripts/install.sh
