"""speechbrain-asd: anomalous sound detection for machine condition monitoring on SpeechBrain.

Sub-packages
------------
nnet        sub-centre cosine heads, (sub-centre) AdaCos losses and AASRL.
dataio      DCASE2023 / ToyADMOS2 preparation and a machine-sound simulator.
lobes       the SSLASD encoder, its features and self-supervised augmentations.
evaluation  back ends, official DCASE2023 metrics and submission files.
"""

__version__ = "0.1.0"
