rule figures:
    input:
        spectra="results/spectra.nc",
        fits="results/fits.csv",
        theory=[f for outs in THEORY_OUTPUTS.values() for f in outs],
    output:
        [
            report(
                f"results/figures/{name}.{ext}",
                caption=f"../report/{name}.rst",
                category="Figures",
            )
            for name in FIGURES
            for ext in FIG_FORMATS
        ],
    log:
        "results/logs/figures.log",
    benchmark:
        "results/benchmarks/figures.tsv"
    params:
        figures=FIGURES,
        formats=FIG_FORMATS,
    conda:
        "../../envs/plots.yaml"
    script:
        "../../scripts/figures.py"


rule scorecard:
    input:
        fits="results/fits.csv",
        theory=[f for outs in THEORY_OUTPUTS.values() for f in outs],
    output:
        csv=report("results/scorecard.csv", caption="../report/scorecard.rst", category="Scorecard"),
        intro="results/report_intro.rst",
    log:
        "results/logs/scorecard.log",
    params:
        intro=str(Path(workflow.basedir) / "workflow/report/workflow.rst"),
    conda:
        "../../envs/analysis.yaml"
    script:
        "../../scripts/scorecard.py"
