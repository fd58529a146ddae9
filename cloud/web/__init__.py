"""The IOC web page: static files (``static/``) and the city it draws (:mod:`cloud.web.city`)."""
