# make_cox_ph_violation_reference.R -- R references for the Cox model on a registry built to
# violate proportional hazards (tests/analyses/data/ph_violation_index.csv, made by
# tests/analyses/data/make_ph_violation.py: treatment's effect reverses at day 90).
#
# Run from the repository root (survival 3.5-3 here):
#   Rscript tests/analyses/reference/make_cox_ph_violation_reference.R
# Model: coxph(Surv(time, status) ~ male + I(age/10) + pregnancy_associated + treatment
#              + I(bmi/5) + smoking, ties = "efron"), complete cases (bmi or smoking missing: left
# out), each factor's reference its most frequent level (treatment: conservative; smoking: never).
# Writes (17 significant digits):
#   ref_cox_ph.csv           the model's coefficients (term, coef, se, hr, lower, upper, z, p, n, events)
#   ref_coxzph_ph.csv        cox.zph(fit) (transform "km", terms = TRUE) plus GLOBAL
#   ref_cox_ph_strata.csv    the model stratified by treatment (the term cox.zph rejects):
#                            coxph(... + strata(treatment), ties = "efron")
#   ref_cox_ph_smoking.csv   the model with smoking as a stratum instead of a covariate
#                            (ResolutionOptions.cox_strata = ("smoking",)), and
#   ref_coxzph_ph_smoking.csv   its cox.zph (risk sets within strata)
suppressPackageStartupMessages(library(survival))
d <- read.csv("tests/analyses/data/ph_violation_index.csv", stringsAsFactors = FALSE, na.strings = c("", "NA"))
to_bool <- function(x) ifelse(x %in% c("True", "TRUE", "true"), TRUE, ifelse(x %in% c("False", "FALSE", "false"), FALSE, NA))
cd <- data.frame(time = d$resolution_days, status = to_bool(d$resolved), male = d$sex == "M", age = d$age_at_onset,
                 pregnancy_associated = to_bool(d$pregnancy_associated),
                 treatment = relevel(factor(d$treatment), ref = "conservative"), bmi = d$bmi,
                 smoking = relevel(factor(d$smoking), ref = "never"))
cd <- cd[complete.cases(cd), ]
z975 <- qnorm(0.975)
rename <- function(x) {
  x <- sub("^maleTRUE$", "male", x)
  x <- sub("^I\\(age/10\\)$", "age", x)
  x <- sub("^pregnancy_associatedTRUE$", "pregnancy_associated", x)
  x <- sub("^I\\(bmi/5\\)$", "bmi", x)
  x <- sub("^treatment", "treatment_", x)
  sub("^smoking", "smoking_", x)
}
fmt <- function(col) if (is.numeric(col)) trimws(formatC(col, digits = 17, format = "g")) else col
write <- function(frame, name) write.csv(as.data.frame(lapply(frame, fmt)), file.path("tests/analyses/reference", name),
                                         row.names = FALSE, quote = FALSE)
coefs <- function(fit) {
  cs <- summary(fit)$coefficients
  data.frame(term = rename(rownames(cs)), coef = cs[, "coef"], se = cs[, "se(coef)"], hr = cs[, "exp(coef)"],
             lower = exp(cs[, "coef"] - z975 * cs[, "se(coef)"]), upper = exp(cs[, "coef"] + z975 * cs[, "se(coef)"]),
             z = cs[, "z"], p = cs[, "Pr(>|z|)"], n = fit$n, events = fit$nevent)
}
zph <- function(fit) {
  t <- cox.zph(fit)$table
  data.frame(term = sub("^I\\(age/10\\)$", "age", sub("^I\\(bmi/5\\)$", "bmi", rownames(t))),
             chisq = t[, "chisq"], df = t[, "df"], p = t[, "p"])
}
fit <- coxph(Surv(time, status) ~ male + I(age/10) + pregnancy_associated + treatment + I(bmi/5) + smoking,
             data = cd, ties = "efron")
write(coefs(fit), "ref_cox_ph.csv")
write(zph(fit), "ref_coxzph_ph.csv")
strat <- coxph(Surv(time, status) ~ male + I(age/10) + pregnancy_associated + I(bmi/5) + smoking + strata(treatment),
               data = cd, ties = "efron")
write(coefs(strat), "ref_cox_ph_strata.csv")
smoke <- coxph(Surv(time, status) ~ male + I(age/10) + pregnancy_associated + treatment + I(bmi/5) + strata(smoking),
               data = cd, ties = "efron")
write(coefs(smoke), "ref_cox_ph_smoking.csv")
write(zph(smoke), "ref_coxzph_ph_smoking.csv")
