"""`AnomalyDetector`: the contract every keras_synthad method keeps.

- ``call(x)`` returns the anomaly score, shape (n,), higher = more anomalous, so
  ``predict``, the exported SavedModel and TF Serving agree.
- ``calibrate(x_normal, contamination)`` stores the threshold and the range of the
  calibration rows in non-trainable weights (saved and exported with the model);
  ``detect(x)`` returns 0 = normal, 1 = anomaly, and flags every row outside that range.
- Training is multi-role: a method names its roles (``roles()``: role -> networks),
  the paper's optimizers (``default_optimizers()``) and writes one iteration of its
  paper's algorithm in ``algorithm_step(x, y)`` with ``keras.ops``, calling
  ``self.update_role(role, loss_fn)`` for each update. The per-backend gradient
  mechanics live in `keras_synthad.backend`.
"""

from __future__ import annotations

import inspect
import math
import warnings

import keras
import numpy as np

from keras_synthad import backend, hyperparameters
from keras_synthad.optimizers import inner_optimizer, multi_role_optimizer
from keras_synthad.validation import (
    check_contamination,
    check_features,
    check_input_shape,
    check_labels,
    is_array_like,
)

CALIBRATION_ROWS = 8  # rows of calibration data kept for serving warmup
#: ``calibrate``'s default range margin: a row is out of range when a value lies more
#: than this fraction of the column's calibration span below its minimum or above its maximum.
RANGE_MARGIN = 0.1
RANGE_SLACK = 1e-6  # absolute slack on top of the margin (float rounding, constant columns)
#: Own weights added after the first release, in the order they were added: files saved
#: before one existed lack it and the ones after it (`load_own_variables` fills them in).
ADDED_WEIGHTS = ("calibration_rows", "range_low", "range_high")


class OutOfRangeWarning(UserWarning):
    """Rows outside the range the model was calibrated on: their scores are extrapolation."""


DEFAULT_PRESET = "default"
#: Files saved before presets existed hold the paper's settings.
LEGACY_PRESET = "paper"


def per_row(rows) -> tuple:
    """The shape of one value per row of `rows` that broadcasts against them: ``(n, 1)`` for a
    table, ``(n, 1, 1, 1)`` for images."""
    return (keras.ops.shape(rows)[0],) + (1,) * (len(rows.shape) - 1)


class _SplitApply:
    """Hands each role's slice of one gradient list to that role's optimizer."""

    def __init__(self, parts):
        self.parts = parts

    def apply(self, grads, variables):
        start = 0
        for optimizer, role_variables in self.parts:
            stop = start + len(role_variables)
            optimizer.apply(grads[start:stop], variables[start:stop])
            start = stop


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `keras.random.SeedGenerator` whose draws differ on every replica of a ``tf.distribute``
    strategy (each replica samples noise for its own share of the batch), reproducibly; elsewhere
    it draws Keras' own seeds (on torch without Keras' tensor bookkeeping: `backend.next_seed`)."""

    def next(self, ordered=True):
        return backend.next_seed(self, ordered)


@keras.saving.register_keras_serializable(package="keras_synthad")
class AnomalyDetector(keras.Model):
    """Base class of the keras_synthad methods.

    Args:
        input_shape: shape of one sample, ``(d,)`` for tables or ``(H, W, C)``
            for images. Features must be scaled to [0, 1] for ``fit``.
        seed: optional integer: the method's `keras.random.SeedGenerator`, and Keras'
            global seeds (``keras.utils.set_random_seed``: weight initialisation,
            dropout, shuffling) when the model is built and when its first ``fit``
            starts, so the same seed gives the same scores on the same backend and machine.
        preset: the named settings the method's other arguments default to
            (``"default"``: the label-free recipe; ``"paper"``: the paper's settings;
            ``"authors_code"`` where the authors' code differs). Arguments passed
            explicitly override the preset's value. Stored in the config.
        **kwargs: passed to `keras.Model` (``name``, ...).

    Presets (KerasHub's idea, for settings rather than weights): a method lists
    its preset names in ``preset_names`` and gives each one's values in
    ``preset_values(preset)``; its ``__init__`` declares every preset-governed
    argument with a ``None`` default and resolves them with `configure`, which
    also checks them against the class's ``parameter_constraints``.
    ``Method.from_preset("paper", input_shape=...)`` is ``Method(..., preset="paper")``.
    """

    #: The presets the method offers; the first is its default.
    preset_names: tuple[str, ...] = (DEFAULT_PRESET, "paper")

    #: Whether ``fit(x, y)`` accepts known anomalies (y = 1).
    supports_known_anomalies = False
    #: Whether ``fit`` and ``calibrate`` take batches (`tf.data`, `PyDataset`), so a pipeline can stream rows.
    trains_on_batches = True
    #: Whether ``fit`` requires features in [0, 1] (the methods that generate samples in that range).
    unit_interval_inputs = True
    #: Names of the losses ``algorithm_step`` returns, shown in the progress bar.
    loss_names: tuple[str, ...] = ()
    #: ``{argument: Constraint}`` of the method's hyperparameters (`set_hyperparameters`).
    parameter_constraints: dict = {}
    #: ``{argument: attribute}`` where the argument's own name is taken by a network.
    stored_as: dict = {}

    def __init__(self, input_shape, seed=None, preset=DEFAULT_PRESET, **kwargs):
        if seed is not None:
            keras.utils.set_random_seed(int(seed))  # the networks' initial weights
        super().__init__(**kwargs)
        self.feature_shape = check_input_shape(input_shape)
        self.seed = seed
        if preset not in self.preset_names:
            raise ValueError(
                f"Invalid value received for argument `preset` of {type(self).__name__}. Expected one of "
                f"{self.preset_names}. Received: preset={preset!r}"
            )
        self.preset = preset
        self.weight_averaging = 0.0
        object.__setattr__(self, "weight_averages", ())
        object.__setattr__(self, "_hyperparameters", {})  # plain dict: not Keras-tracked
        self.seed_generator = ReplicaSeedGenerator(seed)
        self.threshold = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(math.nan),
            trainable=False,
            name="threshold",
        )
        # A few rows of the calibration data: TF Serving's warmup requests (export.py).
        self.calibration_rows = self.add_weight(
            shape=(CALIBRATION_ROWS, *self.feature_shape), initializer="zeros", trainable=False, name="calibration_rows"
        )
        # The range guard (calibrate): per column for tables, one pixel range for images;
        # unbounded until calibrated.
        range_shape = self.feature_shape if len(self.feature_shape) == 1 else ()
        self.range_low = self.add_weight(
            shape=range_shape, initializer=keras.initializers.Constant(-math.inf), trainable=False, name="range_low"
        )
        self.range_high = self.add_weight(
            shape=range_shape, initializer=keras.initializers.Constant(math.inf), trainable=False, name="range_high"
        )
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in self.loss_names]

    @property
    def data_kind(self) -> str:
        return "tabular" if len(self.feature_shape) == 1 else "image"

    # --- presets ---------------------------------------------------------------

    @classmethod
    def from_preset(cls, preset: str, **kwargs):
        """The method with the named preset's settings; ``kwargs`` override single values."""
        return cls(preset=preset, **kwargs)

    def preset_values(self, preset: str) -> dict:
        """``{argument: value}`` of `preset` for this model's input shape."""
        return {}

    def apply_preset(self, **given) -> dict:
        """The arguments in `given` with each ``None`` replaced by the preset's value."""
        values = self.preset_values(self.preset)
        return {name: values.get(name) if value is None else value for name, value in given.items()}

    def configure(self, arguments: dict) -> None:
        """Set the hyperparameters from the constructor's arguments (its ``locals()``): each one
        named in ``parameter_constraints``, ``None`` replaced by the preset's value."""
        given = {name: arguments[name] for name in self.parameter_constraints if name in arguments}
        self.set_hyperparameters(**self.apply_preset(**given))

    def set_hyperparameters(self, **values) -> None:
        """Check ``values`` against ``parameter_constraints``, keep them for `get_config` and set them
        as attributes (``stored_as`` renames the few whose name is a network's)."""
        values = hyperparameters.checked(self.parameter_constraints, values)
        self._hyperparameters.update(values)
        for name, value in values.items():
            setattr(self, self.stored_as.get(name, name), value)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.setdefault("preset", LEGACY_PRESET)
        return cls(**config)

    # --- trivial anomalies (DA3D's eq. 1; a stabiliser of the other defaults) -------

    def sample_trivial_anomalies(self, shape):
        """Rows drawn from ``N(0.5, 1)``: far from data scaled to [0, 1], hence anomalous."""
        return keras.random.normal(shape, mean=0.5, stddev=1.0, seed=self.seed_generator)

    def swap_features(self, rows, rate: float):
        """The batch's `rows` with each value replaced, with probability `rate`, by the same
        feature's value in a random row of the batch: every feature keeps its values (a one-hot
        column stays 0/1), while the dependence between features is broken. Anomalies near the
        data, where ``N(0.5, 1)`` rows are far from it."""
        shape = keras.ops.shape(rows)
        donors = keras.random.randint(shape, 0, shape[0], seed=self.seed_generator)
        replace = keras.random.uniform(shape, seed=self.seed_generator) < rate
        return keras.ops.where(replace, keras.ops.take_along_axis(rows, donors, axis=0), rows)

    def trivial_anomalies(self, rows, swapped: float = 0.0, rate: float = 0.25, uniform: float = 0.0):
        """One trivial anomaly per row of the batch `rows`: with probability `swapped` the row
        with swapped features (`swap_features` at `rate`, near the data), with probability
        `uniform` a row drawn uniformly from [0, 1]^d (the box the data is scaled to: a
        classifier of normal rows against it learns where in the box the data is dense),
        otherwise an ``N(0.5, 1)`` row (far from it)."""
        shape = keras.ops.shape(rows)
        far = self.sample_trivial_anomalies(shape)
        if not swapped and not uniform:
            return far
        # Only the kinds in use are drawn, so a share of 0 leaves the other kinds' draws as they were.
        near = self.swap_features(rows, rate) if swapped else far
        box = keras.random.uniform(shape, seed=self.seed_generator) if uniform else far
        pick = keras.random.uniform(per_row(rows), seed=self.seed_generator)
        return keras.ops.where(pick < swapped, near, keras.ops.where(pick < swapped + uniform, box, far))

    def graded_anomalies(self, rows, reference, share: float):
        """Replace a `share` of the `reference` rows (the trivial anomalies drawn for `rows`,
        one per row) by points on the segment from each row to its reference row,
        ``x + t (r - x)`` with ``t ~ U(0, 1)``, and grade each point's target by ``t``: near
        the data a little anomalous, at the reference row fully. Returns the points and their
        targets (1 for the reference rows kept). A classifier trained against them learns a
        score that rises with the distance from the rows in every direction a reference row
        lies, where reference rows alone only separate the data from far away.
        """
        pick = keras.random.uniform(per_row(rows), seed=self.seed_generator) < share
        t = keras.random.uniform(per_row(rows), seed=self.seed_generator)
        points = keras.ops.where(pick, rows + t * (reference - rows), reference)
        return points, keras.ops.reshape(keras.ops.where(pick, t, 1.0), (-1,))

    # --- weight averaging (a label-free stabiliser) -------------------------------

    def averaged_networks(self) -> list:
        """The networks ``call`` scores with, whose weights `weight_averaging` averages."""
        return []

    def build_weight_averages(self, momentum) -> None:
        """Keep an exponential moving average of the scoring networks' weights.

        Call at the end of ``__init__``, once the networks exist. ``momentum`` 0 (or
        None) turns averaging off; a value in (0, 1) averages
        ``w_avg <- momentum * w_avg + (1 - momentum) * w`` after every training step
        (the first step copies ``w``), and every ``fit`` ends by loading the averages
        into the networks, so ``predict``, ``calibrate``, the saved model and the
        export all score with the averaged weights (Polyak averaging, as Keras'
        ``use_ema`` with its end-of-fit overwrite).
        """
        self.weight_averaging = float(momentum or 0.0)
        if not self.weight_averaging:
            return
        averages = tuple(
            self.add_weight(shape=v.shape, initializer="zeros", trainable=False, name=f"weight_average_{i}")
            for i, v in enumerate(self._averaged_variables())
        )
        # Plain attribute (not Keras-tracked): add_weight already tracks each variable once.
        object.__setattr__(self, "weight_averages", averages)

    def _averaged_variables(self) -> list:
        return [v for network in self.averaged_networks() for v in network.trainable_variables]

    def update_weight_averages(self) -> None:
        first = keras.ops.equal(self.optimizer.iterations, 0)
        momentum = keras.ops.where(first, 0.0, self.weight_averaging)
        backend.update_averages(self.weight_averages, self._averaged_variables(), momentum)

    def load_weight_averages(self) -> None:
        """Copy the averaged weights into the scoring networks (the end of every ``fit``)."""
        for average, variable in zip(self.weight_averages, self._averaged_variables(), strict=True):
            variable.assign(keras.ops.copy(average))  # a copy: JAX donates each variable's own buffer

    # --- members (a label-free stabiliser: several initialisations in one model) ---

    @staticmethod
    def member_mean(values: list):
        """The mean of the members' losses or scores (the value itself for one member).

        Members share no weights, so the gradient of the mean of their losses moves each
        member as its own loss would, scaled by 1/members (which Adam's normalisation undoes).
        """
        return values[0] if len(values) == 1 else keras.ops.mean(keras.ops.stack(values), axis=0)

    # --- what a method provides ------------------------------------------------

    def roles(self) -> dict[str, list[keras.Layer]]:
        """``{role: [networks]}``; a role's variables are its networks' trainable variables."""
        raise NotImplementedError

    def default_optimizers(self) -> dict[str, keras.optimizers.Optimizer]:
        """``{role: optimizer}`` as given in the method's paper (``compile()``'s "auto")."""
        raise NotImplementedError

    def algorithm_step(self, x, y=None) -> dict:
        """One iteration of the paper's algorithm; returns ``{loss_name: scalar}``."""
        raise NotImplementedError

    # --- compile ------------------------------------------------------------------

    def compile(self, optimizer="auto", **kwargs):
        """Configure training.

        Args:
            optimizer: ``"auto"`` for the paper's optimizers and learning rates, a
                dict ``{role: optimizer}`` (each a `keras.optimizers.Optimizer`, an
                identifier such as ``"adam"`` or a serialized config; roles left out
                keep the paper's optimizer), or a `keras.optimizers.MultiOptimizer`
                whose inner optimizers are named after the roles.
            **kwargs: other `keras.Model.compile` arguments (``jit_compile``,
                ``steps_per_execution``, ``run_eagerly``). The losses are the
                paper's, so ``loss`` and ``metrics`` are refused.
        """
        for refused in ("loss", "metrics", "loss_weights", "weighted_metrics"):
            if kwargs.get(refused) is not None:
                raise ValueError(
                    f"{type(self).__name__}.compile() takes no `{refused}`: the losses are "
                    f"the paper's. Received: {refused}={kwargs[refused]!r}"
                )
        roles = self.roles()
        if isinstance(optimizer, str) and optimizer == "auto":
            optimizer = multi_role_optimizer(self.default_optimizers())
        elif isinstance(optimizer, dict):
            unknown = sorted(set(optimizer) - set(roles))
            if unknown:
                raise ValueError(
                    "Invalid value received for argument `optimizer`. Expected optimizers for "
                    f"the roles {sorted(roles)}. Received unknown roles: {unknown}"
                )
            defaults = self.default_optimizers() if set(optimizer) != set(roles) else {}
            optimizer = multi_role_optimizer(
                {r: keras.optimizers.get(optimizer[r]) if r in optimizer else defaults[r] for r in roles}
            )
        elif not isinstance(optimizer, keras.optimizers.MultiOptimizer):
            raise ValueError(
                'Invalid value received for argument `optimizer`. Expected "auto", a dict '
                f"{{role: optimizer}} for roles {sorted(roles)}, or a keras.optimizers."
                f"MultiOptimizer. Received: optimizer={optimizer!r}"
            )
        super().compile(optimizer=optimizer, **kwargs)
        shared_roles = self._check_role_assignment()
        self.optimizer.build(self.trainable_variables)
        for role in shared_roles:
            # A role made only of networks owned by another role (an AAE's encoder
            # acting as generator) keeps its own optimizer state on those variables.
            inner_optimizer(self.optimizer, role).build(self._role_variables(role))

    def _role_variables(self, role: str) -> list:
        return [v for network in self.roles()[role] for v in network.trainable_variables]

    def _check_role_assignment(self) -> list[str]:
        """Check every trainable variable is routed to an optimizer; return the shared roles.

        A variable belongs to the role under whose ``keras.name_scope`` it was created,
        which is what routes it to that role's inner optimizer. A role may also be
        made only of networks that another role owns (no variable under its own
        scope): it is "shared", and its inner optimizer is built on them directly.
        """

        def under(variable, role):
            return variable.path.startswith(role + "/") or f"/{role}/" in variable.path

        owned, shared = set(), []
        for role in self.roles():
            inner_optimizer(self.optimizer, role)  # raises if the role has none
            variables = self._role_variables(role)
            mine = [v for v in variables if under(v, role)]
            if mine and len(mine) != len(variables):
                stray = [v.path for v in variables if not under(v, role)]
                raise ValueError(
                    f"Role {role!r} mixes its own variables with variables created outside "
                    f"keras.name_scope({role!r}): {stray}. Build each network under the scope of "
                    "the role that owns it."
                )
            if mine:
                owned.update(id(v) for v in mine)
            else:
                shared.append(role)
        for role in shared:
            for v in self._role_variables(role):
                if id(v) not in owned:
                    raise ValueError(
                        f"Variable {v.path!r} of role {role!r} was not created under the "
                        "keras.name_scope of any of its roles; its optimizer cannot be found."
                    )
        stray = [v.path for v in self.trainable_variables if id(v) not in owned]
        if stray:
            raise ValueError(f"Trainable variables belong to no role: {stray}")
        return shared

    def get_compile_config(self):
        if getattr(self, "optimizer", None) is None:
            return None
        return {
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
            "jit_compile": self.jit_compile,
        }

    def compile_from_config(self, config):
        self.compile(
            optimizer=keras.saving.deserialize_keras_object(config["optimizer"]),
            jit_compile=config.get("jit_compile", "auto"),
        )

    # --- training ------------------------------------------------------------------

    def update_role(self, role: str, loss_fn):
        """Update `role`'s variables on ``loss_fn()`` with the role's inner optimizer."""
        return backend.update_role(self, self._role_variables(role), inner_optimizer(self.optimizer, role), loss_fn)

    def update_roles(self, roles, loss_fn):
        """One gradient of ``loss_fn()`` for several roles' variables, each applied by its role's optimizer.

        For algorithms whose networks all minimise one loss at the same parameters
        (DHAG's Algorithm 1) but with per-role learning rates.
        """
        parts = [(inner_optimizer(self.optimizer, role), self._role_variables(role)) for role in roles]
        variables = [v for _, role_variables in parts for v in role_variables]
        return backend.update_role(self, variables, _SplitApply(parts), loss_fn)

    def train_step(self, *args):
        # TensorFlow/torch: (data,); JAX: (state, data). See keras_synthad.backend.
        return backend.train_step(self, *args)

    def run_algorithm_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        losses = self.algorithm_step(x, y)
        if self.weight_averages:
            self.update_weight_averages()
        logs = backend.update_trackers(self.loss_trackers, losses)
        self.optimizer.iterations.assign_add(1)
        return logs

    @property
    def metrics(self):
        return list(self.loss_trackers)

    def check_fit_inputs(self, x, y=None, kwargs=None):
        """Validate `fit`'s arguments; returns the checked ``(x, y)``."""
        for refused in ("validation_data", "validation_split"):
            if (kwargs or {}).get(refused):
                raise ValueError(
                    f"{type(self).__name__}.fit() takes no `{refused}`: the training losses are not a "
                    "validation metric. Score held-out data with predict() and keras_synthad.metrics."
                )
        if not is_array_like(x):
            return x, y  # tf.data / PyDataset / generators: Keras iterates them unchecked
        x = check_features(x, self.feature_shape, unit_interval=self.unit_interval_inputs, min_rows=2)
        if y is not None:
            if not self.supports_known_anomalies:
                raise ValueError(
                    f"{type(self).__name__} is unsupervised and takes no labels; "
                    "received `y`. Call fit(x) with normal data only."
                )
            y = check_labels(y, x.shape[0])
        return x, y

    def fit(self, x=None, y=None, **kwargs):
        """Train on normal data scaled to [0, 1] (arrays, `tf.data` or `PyDataset`).

        Array input is checked first (NaN/inf, rank, width, at least two rows,
        [0, 1]); ``y`` (1 = known anomaly) only for methods that support known
        anomalies. Compiles with the paper's optimizers when not compiled yet.
        """
        x, y = self.check_fit_inputs(x, y, kwargs)
        backend.check_distribution(self)
        self.seed_first_fit()
        x, y = self.before_fit(x, y, kwargs)
        return self._fit_checked(x, y, **kwargs)

    def seed_first_fit(self) -> None:
        """Seed Keras' global generators (dropout, shuffling) before the first training step."""
        optimizer = getattr(self, "optimizer", None)
        if self.seed is not None and (optimizer is None or int(keras.ops.convert_to_numpy(optimizer.iterations)) == 0):
            keras.utils.set_random_seed(int(self.seed))

    def announce_phase(self, phase: str, fit_kwargs: dict) -> None:
        """One line before a training phase that ``fit`` runs on its own (pretraining), unless ``verbose=0``."""
        if fit_kwargs.get("verbose", "auto") != 0:
            print(f"{self.name}: {phase}", flush=True)

    def before_fit(self, x, y, kwargs: dict):
        """A method's work between the input checks and Keras' fit (pretraining phases,
        adapting layers, batching); it may edit ``kwargs`` and returns the rows and labels to fit."""
        return x, y

    def _fit_checked(self, x, y=None, **kwargs):
        # `keras.Model.fit` on inputs `check_fit_inputs` already accepted; methods
        # with several training phases call it once per phase.
        if getattr(self, "optimizer", None) is None:
            self.compile()
        x, y = backend.training_data(self, x, y, kwargs)
        history = super().fit(x, y, **kwargs)
        if self.weight_averages:
            self.load_weight_averages()
        return history

    def evaluate(self, *args, **kwargs):
        """Not supported: the adversarial losses are not a measure of detection quality."""
        raise ValueError(
            f"{type(self).__name__}.evaluate() is not supported: score held-out data with predict() "
            "and keras_synthad.metrics (roc_auc, pr_auc, detection_report)."
        )

    # --- scoring ---------------------------------------------------------------------

    def predict(self, x, batch_size=None, verbose="auto", **kwargs):
        """Anomaly scores, shape (n,), higher = more anomalous; an `OutOfRangeWarning` for rows
        outside the calibrated range (`out_of_range`)."""
        return self._scores_and_range(x, batch_size, verbose, **kwargs)[0]

    def _scores_and_range(self, x, batch_size=None, verbose="auto", **kwargs):
        """(scores, `out_of_range` mask or None for datasets): the input checked and its range tested once."""
        outside = None
        if is_array_like(x):
            x = check_features(x, self.feature_shape)
            outside = self._outside(x)
            self.warn_out_of_range(x, outside)
        scores = super().predict(x, batch_size=batch_size, verbose=verbose, **kwargs)
        return np.asarray(scores, dtype=np.float32).reshape(-1), outside

    def calibrate(
        self,
        x,
        contamination: float = 0.05,
        batch_size: int | None = None,
        range_margin: float | None = RANGE_MARGIN,
        scores=None,
    ) -> float:
        """Set the threshold so that a `contamination` fraction of `x` is flagged, and the range guard.

        Args:
            x: normal (or mostly normal) data, e.g. the training set: an array, or batches of
                rows (a `tf.data.Dataset` or `keras.utils.PyDataset`, read twice: scores, then
                the range, or once given `scores`; memory does not grow with the number of rows).
            contamination: expected fraction of anomalies, in (0, 1).
            range_margin: the range guard's margin (see `out_of_range`), a fraction of each
                column's span in `x`; ``None`` turns the guard off.
            scores: this model's ``predict(x)``, when already computed: `x` is then not
                scored again (batches are read once, for the range).

        Returns:
            The threshold, also stored in the model's ``threshold`` weight.

        The model also keeps ``CALIBRATION_ROWS`` rows of `x` (evenly spaced in an array, the
        first ones of batches) in its ``calibration_rows`` weight: `keras_synthad.export` turns
        them into TF Serving's warmup requests. They are saved with the model.
        """
        contamination = check_contamination(contamination)
        if scores is None:
            scores = self.predict(x, batch_size=batch_size, verbose=0)
        else:
            scores = np.asarray(scores, dtype=np.float32).reshape(-1)
            if is_array_like(x) and len(scores) != len(x):
                raise ValueError(
                    f"Invalid value received for argument `scores`: {len(scores)} scores for {len(x)} rows of `x`. "
                    "Pass predict(x) of these rows, or leave `scores` out."
                )
        threshold = float(np.quantile(scores, 1.0 - contamination))
        self.threshold.assign(threshold)
        if is_array_like(x):
            rows = check_features(x, self.feature_shape)
            picks = np.linspace(0, len(rows) - 1, CALIBRATION_ROWS).round().astype(int)
            self.calibration_rows.assign(rows[picks])
            self.set_range(rows, range_margin)
        else:
            self._calibrate_on_batches(x, range_margin)
        return threshold

    def _calibrate_on_batches(self, batches, margin) -> None:
        """`calibrate`'s warmup rows and range guard from batches of rows, in one pass."""
        if isinstance(batches, keras.utils.PyDataset):
            dataset = batches
            batches = (dataset[i] for i in range(len(dataset)))
        axis = self._range_axis
        first, low, high = [], None, None
        for batch in batches:
            rows = np.asarray(batch[0] if isinstance(batch, (tuple, list)) else batch, dtype=np.float32)
            if sum(len(r) for r in first) < CALIBRATION_ROWS:
                first.append(rows[:CALIBRATION_ROWS])
            low = rows.min(axis=axis) if low is None else np.minimum(low, rows.min(axis=axis))
            high = rows.max(axis=axis) if high is None else np.maximum(high, rows.max(axis=axis))
        first = np.concatenate(first)
        self.calibration_rows.assign(first[np.arange(CALIBRATION_ROWS) % len(first)])
        self._set_bounds(low, high, margin)

    @property
    def _range_axis(self):
        """The axis the range guard reduces rows over: per column for tables, one pixel range for images."""
        return 0 if len(self.feature_shape) == 1 else None

    def set_range(self, rows: np.ndarray, margin: float | None = RANGE_MARGIN) -> None:
        """Bound the range guard by `rows`' minimum and maximum, widened by `margin` x their span."""
        axis = self._range_axis
        self._set_bounds(rows.min(axis=axis), rows.max(axis=axis), margin)

    def _set_bounds(self, low, high, margin: float | None = RANGE_MARGIN) -> None:
        """Bound the range guard by the minimum `low` and maximum `high`, widened by `margin` x the span."""
        if margin is None:
            self.range_low.assign(np.full(self.range_low.shape, -np.inf, "float32"))
            self.range_high.assign(np.full(self.range_high.shape, np.inf, "float32"))
            return
        if not float(margin) >= 0:
            raise ValueError(
                "Invalid value received for argument `range_margin`. Expected a fraction >= 0, "
                f"or None to turn the range guard off. Received: range_margin={margin!r}"
            )
        slack = float(margin) * (high - low) + RANGE_SLACK
        self.range_low.assign((low - slack).astype("float32"))
        self.range_high.assign((high + slack).astype("float32"))

    def out_of_range(self, x) -> np.ndarray:
        """True for each row of `x` with a value outside the calibrated range (the range guard).

        The range is the calibration rows' minimum and maximum per column (for images, over
        all pixels), widened by ``range_margin`` x the span. The networks never saw such
        values, so their score is extrapolation: `detect` and the exported ``is_anomaly``
        flag these rows, and `predict` warns about them.
        """
        return self._outside(check_features(x, self.feature_shape))

    def _outside(self, rows: np.ndarray) -> np.ndarray:
        low, high = keras.ops.convert_to_numpy(self.range_low), keras.ops.convert_to_numpy(self.range_high)
        return ((rows < low) | (rows > high)).reshape(len(rows), -1).any(axis=1)

    def warn_out_of_range(self, rows: np.ndarray, outside: np.ndarray) -> None:
        """One `OutOfRangeWarning` naming how many rows lie outside the range, and the first of them."""
        if not outside.any():
            return
        row = int(np.argmax(outside))
        values = rows[row].reshape(-1)
        low, high = (
            np.broadcast_to(keras.ops.convert_to_numpy(w), rows.shape[1:]).reshape(-1)
            for w in (self.range_low, self.range_high)
        )
        column = int(np.flatnonzero((values < low) | (values > high))[0])
        bounds = (low[column], high[column])
        where = f"column {column}" if len(self.feature_shape) == 1 else f"value {column}"
        warnings.warn(
            OutOfRangeWarning(
                f"{int(outside.sum())} of {len(rows)} rows lie outside the range the model was calibrated on "
                f"(first: row {row}, {where} = {values[column]:.4g}, range [{bounds[0]:.4g}, {bounds[1]:.4g}]); "
                "they are flagged as anomalies (detect(), the exported is_anomaly). Scale new rows with the scaler fitted on the training "
                "rows; calibrate(..., range_margin=None) turns the guard off."
            ),
            stacklevel=3,
        )

    @property
    def is_calibrated(self) -> bool:
        return not math.isnan(float(keras.ops.convert_to_numpy(self.threshold)))

    def detect(self, x, batch_size: int | None = None) -> np.ndarray:
        """Labels, 0 = normal and 1 = anomaly: a score above the calibrated threshold, or a
        row outside the calibrated range (`out_of_range`)."""
        if not self.is_calibrated:
            raise ValueError(
                f"{type(self).__name__} has no threshold yet: call "
                "calibrate(x_normal, contamination=...) before detect()."
            )
        threshold = float(keras.ops.convert_to_numpy(self.threshold))
        scores, outside = self._scores_and_range(x, batch_size, verbose=0)
        flagged = scores > threshold
        return (flagged if outside is None else flagged | outside).astype(np.int32)

    # --- serialization ---------------------------------------------------------------

    def _rng_states(self):
        # Keras saves layers' own variables but not SeedGenerator states (ours and the
        # Dropout layers'), so a restored model would draw different noise. They are
        # the non-trainable variables SeedGenerator names "seed_generator_state".
        return [v for v in self.non_trainable_variables if v.path.endswith("seed_generator_state")]

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, state in enumerate(self._rng_states()):
            store[f"rng_{i}"] = keras.ops.convert_to_numpy(state)

    def load_own_variables(self, store):
        keys = list(store.keys())
        store = self._with_added_weights(store, keys)
        keys = list(store.keys())
        for i, state in enumerate(self._rng_states()):
            if f"rng_{i}" in keys:
                state.assign(keras.ops.cast(np.asarray(store[f"rng_{i}"]), state.dtype))
        super().load_own_variables({k: store[k] for k in keys if not k.startswith("rng_")})

    def _with_added_weights(self, store, keys):
        """Files saved before some of `ADDED_WEIGHTS` existed hold fewer own variables: shift the
        later indices and keep the missing ones at their initial values (no warmup rows, no
        range guard: export then asks for ``warmup_rows``, and calibrate() sets the range)."""
        own = self._trainable_variables + self._non_trainable_variables
        indexed = [k for k in keys if not k.startswith("rng_")]
        missing_count = len(own) - len(indexed)
        if not 0 < missing_count <= len(ADDED_WEIGHTS):
            return store
        missing = {id(getattr(self, name)) for name in ADDED_WEIGHTS[-missing_count:]}
        shifted = {k: store[k] for k in keys if k.startswith("rng_")}
        source = 0
        for i, variable in enumerate(own):
            if id(variable) in missing:
                shifted[str(i)] = keras.ops.convert_to_numpy(variable)
            else:
                shifted[str(i)] = store[str(source)]
                source += 1
        return shifted

    def get_config(self):
        config = super().get_config()
        config.update({"input_shape": list(self.feature_shape), "seed": self.seed, "preset": self.preset})
        # Every hyperparameter under its constructor argument's name.
        arguments = inspect.signature(type(self).__init__).parameters
        config.update(
            {name: hyperparameters.to_config(v) for name, v in self._hyperparameters.items() if name in arguments}
        )
        return config
