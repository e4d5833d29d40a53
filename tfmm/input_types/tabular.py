"""Tabular inputs: a group of numeric and categorical columns, one modality
(`tfmm.data.tabular` holds the fitting and the TensorFlow preprocessing)."""

from tfmm.input_types.registry import InputType, register_input_type
from tfmm.schema import ConfigError, positive


@register_input_type
class Tabular(InputType):
    name, default_encoder = "tabular", "mlp"
    fields = ("numeric", "categorical", "numeric_bins", "max_categories", "min_category_count")

    def columns(self, i):
        return list(i.numeric or []) + list(i.categorical or [])

    def resolve_column(self, i):
        return None  # the columns are `numeric` and `categorical`

    def validate(self, i, path):
        if not (i.numeric or i.categorical):
            raise ConfigError(
                f"{path}: a tabular input needs `numeric` or `categorical` "
                f"columns (lists of column names). Received: numeric="
                f"{i.numeric}, categorical={i.categorical}"
            )
        if i.column is not None:
            raise ConfigError(
                f"{path}.column: a tabular input names its columns in "
                f"`numeric` and `categorical`. Received: column={i.column!r}"
            )
        if i.augment:
            raise ConfigError(
                f"{path}.augment: tabular inputs have no augmentation. Received: augment=True"
            )
        names = self.columns(i)
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ConfigError(
                f"{path}: column(s) {twice} listed twice in numeric/categorical."
                f" Received: numeric={i.numeric}, categorical={i.categorical}"
            )
        positive(i, path, "numeric_bins", "max_categories", "min_category_count")

    def cell_problems(self, i, manifest):
        from tfmm.data.tabular import tabular_problems

        return tabular_problems(i, manifest)

    def summary(self, i, manifest, config):
        from tfmm.data.tabular import tabular_summary

        return tabular_summary(i, manifest, self._training_state(config, i, manifest))

    def _training_state(self, config, input_config, manifest):
        """The input's state fitted on `data.train` when the manifest checked is another
        split (so a tabular input's unseen categories can be counted), else None."""
        import os

        from tfmm.data.manifest import Manifest

        if not config.data.train:
            return None
        train = config.resolve_path(config.data.train)
        if (
            not isinstance(train, str)
            or not os.path.exists(train)
            or os.path.abspath(train) == os.path.abspath(str(manifest.path))
        ):
            return None
        return self.fit(input_config, Manifest(train))

    def fit(self, i, manifest):
        from tfmm.data.tabular import fit_tabular_state

        return fit_tabular_state(i, manifest.columns)

    def preprocessor(self, i, vocabulary):
        from tfmm.data.tabular import TabularPreprocessor

        return TabularPreprocessor(i, vocabulary)

    def features(self, i, pre, raw, text=True):
        return pre.from_cells(raw)

    def present(self, i, pre, raw):
        return pre.present(raw)

    def raw_specs(self, i):
        import tensorflow as tf

        specs = {}
        for part, columns, dtype in (
            ("numeric", i.numeric, tf.float32),
            ("categorical", i.categorical, tf.string),
        ):
            if columns:
                specs[f"{i.name}_{part}"] = tf.TensorSpec(
                    [None, len(columns)], dtype, name=f"{i.name}_{part}"
                )
        return specs

    def served_features(self, i, pre, raw):
        return pre.from_served(raw)

    def served_present(self, i, raw):
        from tfmm.data.tabular import served_present

        return served_present(i, raw)

    def raw_values(self, i, columns):
        from tfmm.data.tabular import raw_tabular

        return raw_tabular(i, columns)

    def client_spec(self, i, vocabulary):
        return {
            "numeric": list(i.numeric or []),
            "categorical": list(i.categorical or []),
            "categories": [list(vocabulary["categorical"][c]) for c in i.categorical or []],
        }

    def meanings(self, i):
        out = {}
        if i.numeric:
            out[f"{i.name}_numeric"] = (
                f"float32 [batch, {len(i.numeric)}]: columns {list(i.numeric)}, NaN where missing"
            )
        if i.categorical:
            out[f"{i.name}_categorical"] = (
                f"int32 [batch, {len(i.categorical)}]: category ids of columns "
                f"{list(i.categorical)} (0 missing, 1 unseen in training)"
            )
        return out
