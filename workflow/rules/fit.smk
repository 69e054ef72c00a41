rule fit:
    input:
        spectra="results/spectra/{run}/{stage}.nc",
    output:
        "results/fits/{run}/{stage}.csv",
    log:
        "results/logs/fit/{run}/{stage}.log",
    benchmark:
        "results/benchmarks/fit/{run}/{stage}.tsv"
    params:
        fit=config["fit"],
        seed=lambda wc: parse_run(wc.run)[2],
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/analysis.yaml"
    script:
        "../../scripts/fit.py"


rule aggregate_fits:
    input:
        fits=fit_files(),
        summaries=expand("results/train/{run}/summary.json", run=RUNS),
    output:
        csv="results/fits.csv",
        nc="results/fits.nc",
    log:
        "results/logs/aggregate_fits.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../../scripts/aggregate_fits.py"
