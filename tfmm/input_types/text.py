"""Text inputs: a column of strings (and a BERT input's `pair_column`)."""

from tfmm.input_types.registry import InputType, register_input_type


@register_input_type
class Text(InputType):
    name, default_encoder, sequence_default_encoder = "text", "tfidf", "textcnn"

    def columns(self, i):
        return [i.column] + ([i.pair_column] if i.pair_column else [])

    def fit(self, i, manifest):
        from tfmm.data.text import adapt_tfidf, adapt_vocabulary, bert_vocabulary

        texts = [t for c in self.columns(i) for t in manifest.columns[c] if t is not None]
        if i.encoder.vocabulary_source == "adapted":
            return adapt_vocabulary(texts, i.encoder)
        if i.encoder.vocabulary_source == "tfidf":
            return adapt_tfidf(texts, i.encoder)
        if i.encoder.vocabulary_source == "wordpiece":
            return bert_vocabulary(i.encoder)
        return None

    def preprocessor(self, i, vocabulary):
        from tfmm.data.text import TextPreprocessor

        return TextPreprocessor(i, vocabulary)

    def features(self, i, pre, raw, text=True):
        # The pipeline tokenises text per batch (text=False here, then `pre` per batch).
        if not text:
            return {}
        return pre(raw[i.column], raw[i.pair_column] if i.pair_column else None)

    def raw_specs(self, i):
        import tensorflow as tf

        specs = super().raw_specs(i)
        if i.pair_column:
            specs[f"{i.name}_pair"] = tf.TensorSpec([None], tf.string, name=f"{i.name}_pair")
        return specs

    def served_checks(self, i, raw):
        import tensorflow as tf

        if i.optional:
            return []
        return [
            tf.debugging.assert_equal(
                tf.reduce_all(tf.strings.length(tf.strings.strip(raw[i.name])) > 0),
                True,
                message=f"input `{i.name}`: empty text (a required text input; training "
                f"refuses it too)",
            )
        ]

    def served_features(self, i, pre, raw):
        return pre(raw[i.name], raw.get(f"{i.name}_pair"))

    def raw_values(self, i, columns):
        out = {i.name: [v.encode() if isinstance(v, str) else v for v in columns[i.column]]}
        if i.pair_column:
            out[f"{i.name}_pair"] = [v.encode() for v in columns[i.pair_column]]
        return out

    def client_spec(self, i, vocabulary):
        spec = {"encoder": i.encoder.type}
        if i.encoder.vocabulary_source == "adapted":  # tokenised by the client
            spec.update(
                vocabulary=list(vocabulary),
                sequence_length=int(i.encoder.sequence_length),
                standardize=i.encoder.standardize,
            )
        elif i.encoder.vocabulary_source == "tfidf":
            spec.update(
                vocabulary=list(vocabulary["tokens"]),
                idf=list(vocabulary["idf"]),
                ngrams=int(i.encoder.ngrams),
                standardize=i.encoder.standardize,
            )
        return spec

    def meanings(self, i):
        source = i.encoder.vocabulary_source
        if source == "adapted":
            return {
                i.name: f"int32 [batch, {i.encoder.sequence_length}]: token ids of the "
                f"text (0 padding, 1 out of vocabulary)"
            }
        if source == "tfidf":
            return {
                i.name: "float32 [batch, n-grams + 1]: TF-IDF vector of the text "
                "(entry 0 out of vocabulary)"
            }
        return {i.name: f"{i.encoder.type} text tensors"}
