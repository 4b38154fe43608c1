"""The Qt-free core of MTO Studio: data, templates, models, training, analysis and the run store."""
