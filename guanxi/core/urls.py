from guanxi.core.views import auth, imports, records

urlpatterns = auth.urlpatterns + records.urlpatterns + imports.urlpatterns
