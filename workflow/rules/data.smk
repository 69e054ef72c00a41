rule subset:
    output:
        "results/data/subset_s{seed}.npz",
    log:
        "results/logs/subset/s{seed}.log",
    benchmark:
        "results/benchmarks/subset/s{seed}.tsv"
    params:
        dataset=config["dataset"],
    conda:
        "../../envs/train.yaml"
    script:
        "../../scripts/subset.py"
