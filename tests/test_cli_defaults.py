"""The CLI's option defaults are the library's: the ones spelled out in semid.cli (reading the config
dataclasses there would load torch on every `semid` call) must equal their dataclass defaults."""

import typer.main

from semid.cli import app


def defaults(*command: str) -> dict:
    cmd = typer.main.get_command(app)
    for name in command:
        cmd = cmd.commands[name]
    return {p.name: p.default for p in cmd.params}


def test_train_defaults_are_the_config_defaults():
    from semid.retrieve.sid_model import SIDModelConfig
    from semid.retrieve.train import TrainConfig

    got, train = defaults("train"), TrainConfig()
    names = ("epochs", "patience", "batch_size", "lr", "lr_schedule", "max_train_records", "eval_queries", "seed")
    for name in (*names, "device", "finetune_lr", "pseudo_queries"):
        assert got[name] == getattr(train, name), name
    assert got["no_index_pairs"] == (not train.index_pairs)
    assert got["d_model"] == SIDModelConfig.d_model and got["decoder_layers"] == SIDModelConfig.decoder_layers
    assert got["finetune_layers"] == SIDModelConfig.finetune_layers


def test_serve_embed_prepare_and_tokenize_defaults_are_the_library_defaults():
    from semid.cold_share import DEFAULT_COLD_SHARE
    from semid.data.headtail import DEFAULT_HEAD_COVERAGE
    from semid.data.wordnet import DEFAULT_WORDNET_DIR
    from semid.embed import EncoderConfig
    from semid.serve import BatchConfig, ServeConfig
    from semid.serve.server import ServerLimits
    from semid.tokenize import HourglassConfig, RQKMeansConfig

    serve, batch, limits = defaults("serve"), BatchConfig(), ServerLimits()
    assert (serve["max_batch"], serve["max_wait_ms"], serve["max_queue"], serve["beam"]) == (
        batch.max_batch,
        batch.max_wait_ms,
        batch.max_queue,
        batch.beam,
    )
    assert serve["max_k"] == ServeConfig.max_k and serve["reload_interval"] == ServeConfig.reload_interval_s
    assert serve["body_timeout"] == ServeConfig.body_timeout_s and serve["rank"] == ServeConfig.rank
    assert serve["cold_share"] == ServeConfig.cold_share == defaults("retrieve")["cold_share"] == DEFAULT_COLD_SHARE
    assert (serve["header_timeout"], serve["keep_alive"], serve["max_connections"]) == (
        limits.header_timeout_s,
        limits.keep_alive_s,
        limits.max_connections,
    )
    embed, encoder = defaults("embed"), EncoderConfig()
    assert (embed["model"], embed["batch_size"], embed["device"]) == (encoder.model, encoder.batch_size, encoder.device)
    assert embed["no_cache"] == (not encoder.use_cache)
    for command in (("data", "prepare"), ("data", "import")):
        assert defaults(*command)["head_coverage"] == DEFAULT_HEAD_COVERAGE
    assert str(defaults("data", "prepare")["wordnet_dir"]) == str(DEFAULT_WORDNET_DIR)
    tokenize = defaults("tokenize")
    assert tokenize["codebook_sizes"] == ",".join(map(str, RQKMeansConfig().codebook_sizes))
    assert tokenize["hourglass_k"] == HourglassConfig.top_k


def test_bench_config_spells_out_the_training_defaults():
    """`semid bench` reads BenchConfig, whose batch size and learning rate are TrainConfig's, spelled out."""
    from semid.eval.bench import BenchConfig
    from semid.retrieve.train import TrainConfig

    assert (BenchConfig.batch_size, BenchConfig.lr) == (TrainConfig.batch_size, TrainConfig.lr)
    assert BenchConfig.finetune_lr == TrainConfig.finetune_lr
    assert BenchConfig.pseudo_queries == TrainConfig.pseudo_queries


def test_export_defaults_are_the_config_defaults():
    from semid.export import ExportConfig

    got, cfg = defaults("export", "hf"), ExportConfig()
    assert (got["max_history"], got["overwrite"], got["base_tokenizer"]) == (cfg.max_history, cfg.overwrite, None)
