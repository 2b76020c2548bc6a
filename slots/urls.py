from django.urls import path

from slots import views

urlpatterns = [path("", views.home, name="home")]
