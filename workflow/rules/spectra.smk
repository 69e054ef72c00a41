rule spectra:
    input:
        model="results/train/{run}/model_{stage}.pt",
        summary="results/train/{run}/summary.json",
        subset=subset_of,
    output:
        "results/spectra/{run}/{stage}.nc",
    log:
        "results/logs/spectra/{run}/{stage}.log",
    benchmark:
        "results/benchmarks/spectra/{run}/{stage}.tsv"
    params:
        spectra=config["spectra"],
        device=config["training"]["device"],
    threads: config["training"]["threads"]
    resources:
        mem_mb=spectra_mem_mb,
        runtime=60,
        gpu=gpu_request(),
    conda:
        "../../envs/train.yaml"
    script:
        "../../scripts/spectra.py"


rule combine_spectra:
    input:
        spectra_files(),
    output:
        "results/spectra.nc",
    log:
        "results/logs/combine_spectra.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../../scripts/combine_spectra.py"
