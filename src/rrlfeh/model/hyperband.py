"""keras-tuner's Hyperband with a shortest round, and a tuner that logs each trial as a nested MLflow run.

Both work in every keras-tuner mode: one process, or a chief oracle with worker processes (env
KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT), where a worker's oracle is a
gRPC client of the chief's and only the oracle's public methods reach it.
"""

from __future__ import annotations

import logging
import time

import keras_tuner as kt
import mlflow

from rrlfeh import tracking
from rrlfeh.model.callbacks import MlflowEpochLogger
from rrlfeh.model.search_space import trial_hparams

log = logging.getLogger(__name__)

OBJECTIVE = "val_wmse"  # weighted MSE without the regularization penalty
TUNER_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")
IDLE_POLL_S = 1.0  # a worker waiting on other workers' trials asks the chief again after this


class ShortestRoundHyperbandOracle(kt.oracles.HyperbandOracle):
    """HyperbandOracle whose brackets start at `min_epochs` or more epochs.

    keras-tuner's oracle has a `min_epochs` attribute but no argument for it: its __init__ sets it
    to 1 right before counting the brackets of its first plan. Counting with ours instead skips
    the brackets whose first round would be shorter, from the first plan on; the value is saved in
    and reloaded from the oracle's state like keras-tuner's own.
    """

    def __init__(self, *args, min_epochs: int = 1, **kwargs):
        self._shortest_round = int(min_epochs)
        super().__init__(*args, **kwargs)

    def _get_num_brackets(self):
        self.min_epochs = self._shortest_round
        return super()._get_num_brackets()

    def end_trial(self, trial):
        # keras-tuner saves the state before it drops the trial from `ongoing_trials`, and only a
        # tuner in the oracle's process saves it again: a chief's oracle.json would list finished
        # trials as ongoing, and a resumed search would train them again
        super().end_trial(trial)
        self.save()


class MlflowHyperband(kt.Hyperband):
    """Hyperband on a given oracle; every trial is a nested MLflow run of the search's parent run.

    keras-tuner has no MLflow hook: the nested run opens in on_trial_begin, the epoch logger joins
    the fit in run_trial, and the run closes in on_trial_end, when the oracle has scored the trial.
    `parent` is a callable giving the parent run id when the first trial starts (a worker reads it
    from the chief's search folder, written before the chief serves trials).
    """

    def __init__(self, oracle: kt.Oracle, hypermodel: kt.HyperModel, parent, run_params: dict, **kwargs):
        # kt.Hyperband.__init__ only builds its own HyperbandOracle from its arguments: skip it
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.run_params = run_params
        self._parent = parent
        self._trial_run = None
        self._polls = 0

    def pre_create_trial(self):
        # keras-tuner asks again at once when the oracle answers IDLE (a worker waiting for the
        # others' trials): without a pause, that loop keeps a core busy the trials need
        self._polls += 1
        if self._polls > 1:
            time.sleep(IDLE_POLL_S)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._polls = 0
        if callable(self._parent):
            self._parent = self._parent()
        values = trial.hyperparameters.values
        hp = {**{k: values.get(k, "none") for k in TUNER_KEYS}, **values}
        experiment_id = mlflow.MlflowClient().get_run(self._parent).info.experiment_id
        self._trial_run = mlflow.start_run(run_name=f"trial-{trial.trial_id}", nested=True,
                                           parent_run_id=self._parent, experiment_id=experiment_id)
        mlflow.set_tags({"kind": "hyperband-trial", "trial_id": trial.trial_id, "tuner_id": self.tuner_id})
        tracking.log_params_flat({**self.run_params, "hp": trial_hparams(values, self.hypermodel.arch)})
        mlflow.log_params({k: v for k, v in hp.items() if k.startswith("tuner/")})

    def run_trial(self, trial, *args, **kwargs):
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), MlflowEpochLogger(self._trial_run.info.run_id)]
        return super().run_trial(trial, *args, **kwargs)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)  # the oracle scores the trial and saves its state here
        done = self.oracle.get_trial(trial.trial_id)
        if done.score is not None:
            mlflow.log_metric("objective", float(done.score))
        mlflow.set_tag("trial_status", done.status)
        mlflow.end_run("FINISHED" if done.status == "COMPLETED" else "FAILED")
        self._trial_run = None
        score = "n/a" if done.score is None else f"{done.score:.4f}"
        log.info(f"trial {trial.trial_id} {done.status}: {OBJECTIVE}={score} "
                 f"{trial_hparams(done.hyperparameters.values, self.hypermodel.arch)}")
