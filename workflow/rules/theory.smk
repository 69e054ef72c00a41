# Checks of the theory on sampled random-matrix ensembles: independent of the trained networks.
# One rule per experiment of htmu.study.experiments.EXPERIMENTS (its tables, config section, resources),
# all through scripts/theory.py.

for _name, _experiment in EXPERIMENTS.items():

    rule:
        name:
            f"theory_{_name}"
        output:
            **{table: TABLES[table] for table in _experiment.outputs},
        log:
            f"results/logs/theory/{_name}.log",
        benchmark:
            f"results/benchmarks/theory/{_name}.tsv"
        params:
            experiment=_name,
            params=config["theory"][_name],
            seed=config["theory"]["seed"],
        resources:
            mem_mb=_experiment.mem_mb,
            runtime=_experiment.runtime,
        conda:
            "../../envs/analysis.yaml"
        script:
            "../../scripts/theory.py"
