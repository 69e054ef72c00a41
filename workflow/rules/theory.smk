# Checks of the theory on sampled random-matrix ensembles: independent of the trained networks.
# One rule per experiment (outputs in THEORY_OUTPUTS, common.smk), all through scripts/theory.py.

for _experiment, _outputs in THEORY_OUTPUTS.items():

    rule:
        name:
            f"theory_{_experiment}"
        output:
            _outputs,
        log:
            f"results/logs/theory/{_experiment}.log",
        benchmark:
            f"results/benchmarks/theory/{_experiment}.tsv"
        params:
            experiment=_experiment,
            theory=config["theory"],
            config=config,
        resources:
            mem_mb=4000,
            runtime=60,
        conda:
            "../../envs/analysis.yaml"
        script:
            "../../scripts/theory.py"
