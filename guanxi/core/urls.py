from guanxi.core.views import auth, imports, records

app_name = "core"
urlpatterns = auth.urlpatterns + records.urlpatterns + imports.urlpatterns
