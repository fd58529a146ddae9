"""Training of the shipped models (ultralytics, torch). Never imported at run time."""
