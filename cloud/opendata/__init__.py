"""Open data: the IOC's alerts, air quality, traffic flow and violations as NGSI-LD
entities in the FIWARE Smart Data Models shapes (``schemas/`` holds the JSON schemas,
transcribed from upstream so that nothing is downloaded at run or test time).

Open data never carries personal data: no plate, no image, no track, no watchlist
alert; see :mod:`cloud.opendata.ngsi` for what each entity holds.
"""
