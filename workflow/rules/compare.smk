# WeightWatcher's alpha next to htmu's kappa (optional extra: pip install .[compare]).
# WeightWatcher runs in a subprocess of the script; without the extra the rule still writes its outputs,
# with status "skipped: weightwatcher not installed (pip install .[compare])".


rule weightwatcher:
    input:
        checkpoints=expand("results/train/{run}/model_final.pt", run=RUNS),
        fits="results/fits.csv",
    output:
        csv=report(
            "results/compare/weightwatcher.csv",
            caption="../report/compare_weightwatcher.rst",
            category="WeightWatcher comparison",
        ),
        correlations=report(
            "results/compare/correlations.csv",
            caption="../report/compare_correlations.rst",
            category="WeightWatcher comparison",
        ),
        figures=[
            report(
                f"results/figures/compare_kappa_alpha.{ext}",
                caption="../report/compare_kappa_alpha.rst",
                category="WeightWatcher comparison",
            )
            for ext in FIG_FORMATS
        ],
    log:
        "results/logs/weightwatcher.log",
    benchmark:
        "results/benchmarks/weightwatcher.tsv"
    params:
        seed=0,
        layer_types=["linear"],
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/compare.yaml"
    script:
        "../../scripts/compare_weightwatcher.py"
