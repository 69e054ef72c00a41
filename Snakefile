# htmu: heavy-tailed spectra of trained networks, from data to report.
#
#   config -> subset -> train -> spectra (.nc) -> fits (.csv/.nc) -> figures/tables -> report
#
# Run `make run` (or `snakemake --cores all`), see README.md. Config keys: config/README.md.

from snakemake.utils import min_version

min_version("9.0")


# The bundled default, unless the user names config files: Snakemake would otherwise merge the two key by key,
# and keys of the default that the user's file leaves out would leak into the user's study.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/spectra.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/compare.smk"


# The report opens with the scorecard once the scorecard rule has written it into the report's introduction.
report: REPORT_INTRO


localrules:
    all,
    combine_spectra,
    aggregate_fits,
    figures,
    scorecard,


rule all:
    input:
        all_outputs(),
    default_target: True
