# make_cox_strata_reference.R -- R reference for the Cox model that respects a failed
# proportional-hazards test: stratified by the offending covariate.
#
# Run from the repository root (survival 3.5-3 here):
#   Rscript tests/analyses/reference/make_cox_strata_reference.R
# On tests/analyses/data/ref_index.csv cox.zph rejects proportional hazards for treatment
# (p = 3.1e-5, ref_coxzph.csv); the model stratified by treatment lets each treatment have its
# own baseline hazard.  Writes ref_cox_strata.csv (17 significant digits).
suppressPackageStartupMessages(library(survival))
d <- read.csv("tests/analyses/data/ref_index.csv", stringsAsFactors = FALSE)
to_bool <- function(x) ifelse(x %in% c("True", "TRUE", "true"), TRUE, ifelse(x %in% c("False", "FALSE", "false"), FALSE, NA))
cd <- data.frame(time = d$resolution_days, status = to_bool(d$resolved),
                 male = d$sex == "M", age = d$age_at_onset,
                 pregnancy_associated = to_bool(d$pregnancy_associated),
                 treatment = ifelse(d$treatment == "", NA, d$treatment))
cd <- cd[complete.cases(cd), ]
fit <- coxph(Surv(time, status) ~ male + age + pregnancy_associated + strata(treatment), data = cd,
             ties = "efron")
cs <- summary(fit)$coefficients
z975 <- qnorm(0.975)
term <- sub("^maleTRUE$", "male", sub("^pregnancy_associatedTRUE$", "pregnancy_associated", rownames(cs)))
out <- data.frame(term = term, coef = cs[, "coef"], se = cs[, "se(coef)"], hr = cs[, "exp(coef)"],
                  lower = exp(cs[, "coef"] - z975 * cs[, "se(coef)"]),
                  upper = exp(cs[, "coef"] + z975 * cs[, "se(coef)"]), p = cs[, "Pr(>|z|)"],
                  n = fit$n, events = fit$nevent)
fmt <- function(col) if (is.numeric(col)) trimws(formatC(col, digits = 17, format = "g")) else col
write.csv(as.data.frame(lapply(out, fmt)), "tests/analyses/reference/ref_cox_strata.csv", row.names = FALSE,
          quote = FALSE)
