"""Models that predict: buy-till-you-die models on sufficient statistics.

Each follows the scikit-learn contract: the constructor stores
hyper-parameters, ``fit`` returns the model, learned state ends in ``_``.
"""
