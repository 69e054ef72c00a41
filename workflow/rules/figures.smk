# The figures of htmu.study.figures.FIGURES and the claims of htmu.study.claims.CLAIMS, each rule reading the
# tables they name.


rule figures:
    input:
        **tables_of(FIGURES),
    output:
        [
            report(
                f"results/figures/{name}.{ext}",
                caption=f"../report/{spec.caption}",
                category="Figures",
            )
            for name, spec in FIGURES.items()
            for ext in FIG_FORMATS
        ],
    log:
        "results/logs/figures.log",
    benchmark:
        "results/benchmarks/figures.tsv"
    params:
        figures=list(FIGURES),
        formats=FIG_FORMATS,
    conda:
        "../../envs/plots.yaml"
    script:
        "../../scripts/figures.py"


rule scorecard:
    input:
        **tables_of(CLAIMS),
    output:
        csv=report("results/scorecard.csv", caption="../report/scorecard.rst", category="Scorecard"),
        intro="results/report_intro.rst",
    log:
        "results/logs/scorecard.log",
    params:
        # the text, not its path: editing it reruns the rule, moving the checkout does not
        intro=(Path(workflow.basedir) / "workflow/report/workflow.rst").read_text(),
    conda:
        "../../envs/analysis.yaml"
    script:
        "../../scripts/scorecard.py"
