"""The accuracy predictor: a network's top-1 under a scheme from the closed forms, without simulation.

A one-time measurement per model and data (:mod:`.profile`, :mod:`.measure`) records how the digital
network's logits respond to error in each layer; per scheme, the closed forms give every layer's error
(:mod:`.errors`) and :mod:`.accuracy_model` turns them into each image's probability of a correct top-1.
"""
