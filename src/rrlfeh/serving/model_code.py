"""Models-from-code entry of the registered model `rrl-feh`.

MLflow stores this file as the model's code and executes it when the model is loaded; calling
`set_model` here is how that mechanism learns which object is the model (the one intended
import-time effect in the package; nothing imports this module otherwise).
"""

import mlflow

from rrlfeh.serving.pyfunc import FehModel

mlflow.models.set_model(FehModel())
