# Log-rank and Gray's tests stratified by site, the references of tests/analyses/test_stratified.py.
# Run from this folder:  Rscript make_stratified_reference.R   (R 4.2.2, survival 3.5-3, cmprsk 2.2-11)
# Input: stratified_input.csv (make_stratified_input.py: four simulated sites, the fourth men only,
# without recurrence and without the treatment "other").  Groups as toh.analyses._strata.strata_of:
# sex; pregnancy (women with a known status: pregnancy-associated or not); treatment (recorded).
# Writes ref_stratified.csv: test, outcome, variable, stratified, stat, df, p, with
#   log-rank: survdiff(Surv(resolution_days, resolved) ~ group + strata(site))  (and without strata)
#   Gray:     cuminc(days, status, group, strata = site, cencode = 0)$Tests, cause 1  (and without)
suppressPackageStartupMessages({library(survival); library(cmprsk)})
d <- read.csv("stratified_input.csv", stringsAsFactors = FALSE, na.strings = "")
groups <- list(
  sex = d$sex,
  pregnancy = ifelse(d$sex == "F" & !is.na(d$pregnancy_associated),
                     ifelse(d$pregnancy_associated, "pregnancy-associated", "not pregnancy-associated"), NA),
  treatment = d$treatment)
rows <- list()
add <- function(test, outcome, variable, stratified, stat, df, p) {
  rows[[length(rows) + 1]] <<- data.frame(test = test, outcome = outcome, variable = variable,
                                          stratified = stratified, stat = stat, df = df, p = p)
}
for (variable in names(groups)) {
  keep <- !is.na(groups[[variable]])
  s <- d[keep, ]
  s$group <- groups[[variable]][keep]
  fit <- survdiff(Surv(resolution_days, resolved) ~ group + strata(site), data = s)
  df <- sum(rowSums(fit$exp) > 0) - 1  # print.survdiff's degrees of freedom: groups with an expected event - 1
  add("logrank", "resolution", variable, TRUE, fit$chisq, df, pchisq(fit$chisq, df, lower.tail = FALSE))
  fit <- survdiff(Surv(resolution_days, resolved) ~ group, data = s)
  df <- sum(fit$exp > 0) - 1
  add("logrank", "resolution", variable, FALSE, fit$chisq, df, pchisq(fit$chisq, df, lower.tail = FALSE))
  for (outcome in c("recurrence", "migration")) {
    ftime <- s[[paste0(outcome, "_days")]]; fstatus <- s[[paste0(outcome, "_status")]]
    tst <- cuminc(ftime, fstatus, s$group, strata = s$site, cencode = 0)$Tests
    add("gray", outcome, variable, TRUE, tst["1", "stat"], tst["1", "df"], tst["1", "pv"])
    tst <- cuminc(ftime, fstatus, s$group, cencode = 0)$Tests
    add("gray", outcome, variable, FALSE, tst["1", "stat"], tst["1", "df"], tst["1", "pv"])
  }
}
out <- do.call(rbind, rows)
for (name in c("stat", "p")) out[[name]] <- sprintf("%.17g", out[[name]])  # round-trips to the double
write.csv(out, "ref_stratified.csv", row.names = FALSE, quote = FALSE)
