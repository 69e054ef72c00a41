# The resume state (checkpoint and the snapshots taken so far) lives in results/resume/{run}/, not among the
# outputs: Snakemake deletes the outputs of an interrupted job, and the rerun (--rerun-incomplete) must find it.
# The job deletes it once its outputs are written.
rule train:
    input:
        subset=subset_of,
    output:
        checkpoints=expand(
            "results/train/{{run}}/model_{stage}.pt", stage=["init", "final", *SNAPSHOT_STAGES]
        ),
        metrics="results/train/{run}/metrics.csv",
        summary="results/train/{run}/summary.json",
    log:
        "results/logs/train/{run}.log",
    benchmark:
        "results/benchmarks/train/{run}.tsv"
    params:
        training=config["training"],
        epochs=config["epochs"],
        resume_dir=lambda wildcards: f"results/resume/{wildcards.run}",
    threads: config["training"]["threads"]
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime,
        gpu=gpu_request(),
    conda:
        "../../envs/train.yaml"
    script:
        "../../scripts/train.py"
