# anchor.R -- the R script a user would write instead of `toh analyze`.
#
#     toh derive EXPORT --out DIR --format csv
#     Rscript benchmarks/anchor.R DIR/index.csv
#
# Reads the derived index table (one row per patient; columns in the README, "Derived
# tables") and computes the estimates `toh analyze` reports, with survival and cmprsk:
#   resolution   survfit(conf.type = "log-log"): median (95% CI), S(t) at 6/8/12 months;
#                survdiff by sex, pregnancy (women) and treatment; coxph (Efron ties) of
#                male + age_at_onset + pregnancy_associated + treatment (reference: the most
#                frequent treatment); cox.zph
#   films        survfit(Surv(lo, hi, type = "interval2")) (Turnbull) and survreg Weibull on
#                (xr_lower_day, xr_upper_day]: share changed by 4/8/12 weeks
#   recurrence,  cmprsk::cuminc (death competing) at 12/24 months
#   migration
#   complications binom.test (fracture, AVN) and poisson.test per person-year
# It prints each estimate, and the seconds each block took (lines starting "time").
# benchmarks/run.py times the whole script beside `toh analyze`.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript benchmarks/anchor.R DIR/index.csv")

clock <- proc.time()[["elapsed"]]
lap <- function(label) {
  now <- proc.time()[["elapsed"]]
  cat(sprintf("time %-14s %8.2f s\n", label, now - clock))
  clock <<- now
}
show <- function(label, x) {
  cat(sprintf("%-42s %s\n", label, paste(format(x, digits = 6), collapse = "  ")))
}

as_bool <- function(x) {
  x <- trimws(as.character(x))
  out <- rep(NA, length(x))
  out[x %in% c("True", "TRUE", "true", "1")] <- TRUE
  out[x %in% c("False", "FALSE", "false", "0")] <- FALSE
  out
}

# ---------------------------------------------------------------- read
d <- read.csv(args[1], stringsAsFactors = FALSE, na.strings = c("", "NA"))
for (v in c("pregnancy_associated", "resolved", "fracture_event", "avn_event")) {
  d[[v]] <- as_bool(d[[v]])
}
d$xr_upper_day <- suppressWarnings(as.numeric(d$xr_upper_day))  # "inf" -> Inf
show("patients", nrow(d))
lap("read")

# ---------------------------------------------------------------- resolution
km <- survfit(Surv(resolution_days, resolved) ~ 1, data = d, conf.type = "log-log")
tab <- summary(km)$table
show("resolution median, lower, upper (days)", tab[c("median", "0.95LCL", "0.95UCL")])
for (t in c(182.625, 243.5, 365.25)) {
  s <- summary(km, times = t, extend = TRUE)
  show(sprintf("unresolved at %g days (S, lower, upper)", t), c(s$surv, s$lower, s$upper))
}
for (tau in c(365.25, 730.5)) {
  show(sprintf("RMST to %g days", tau), summary(km, rmean = tau)$table[["rmean"]])
}
women <- d[d$sex == "F" & !is.na(d$pregnancy_associated), ]
show("log-rank p by sex", survdiff(Surv(resolution_days, resolved) ~ sex, data = d)$pvalue)
show("log-rank p by pregnancy (women)",
     survdiff(Surv(resolution_days, resolved) ~ pregnancy_associated, data = women)$pvalue)
show("log-rank p by treatment",
     survdiff(Surv(resolution_days, resolved) ~ treatment, data = d)$pvalue)
lap("km+logrank")

cd <- data.frame(resolution_days = d$resolution_days, resolved = d$resolved,
                 male = d$sex == "M", age_at_onset = d$age_at_onset,
                 pregnancy_associated = d$pregnancy_associated, treatment = d$treatment)
cd <- cd[complete.cases(cd), ]
reference <- names(sort(table(cd$treatment), decreasing = TRUE))[1]
cd$treatment <- relevel(factor(cd$treatment), ref = reference)
cox <- coxph(Surv(resolution_days, resolved) ~ male + age_at_onset + pregnancy_associated +
               treatment, data = cd, ties = "efron")
ci <- exp(confint(cox))
for (term in names(coef(cox))) {
  show(sprintf("Cox HR %s (HR, lower, upper)", term),
       c(exp(coef(cox))[[term]], ci[term, 1], ci[term, 2]))
}
zph <- cox.zph(cox)
show("cox.zph global p", zph$table["GLOBAL", "p"])
lap("cox")

# ---------------------------------------------------------------- films (interval-censored)
films <- d[!(is.na(d$xr_lower_day) & is.na(d$xr_upper_day)), ]
hi <- ifelse(is.infinite(films$xr_upper_day), NA, films$xr_upper_day)
turnbull <- survfit(Surv(films$xr_lower_day, hi, type = "interval2") ~ 1)
weeks <- c(4, 8, 12)
s_tb <- summary(turnbull, times = weeks * 7, extend = TRUE)$surv
show("films: patients", nrow(films))
show("changed by 4/8/12 weeks (Turnbull)", 1 - s_tb)
lap("turnbull")

lo <- ifelse(films$xr_lower_day == 0, NA, films$xr_lower_day)
wb <- survreg(Surv(lo, hi, type = "interval2") ~ 1, dist = "weibull")
shape <- 1 / wb$scale
scale <- exp(coef(wb)[[1]])
show("changed by 4/8/12 weeks (Weibull)", pweibull(weeks * 7, shape, scale))
show("Weibull median (days)", qweibull(0.5, shape, scale))
lap("weibull")

# ---------------------------------------------------------------- recurrence, migration
for (outcome in c("recurrence", "migration")) {
  ftime <- d[[paste0(outcome, "_days")]]
  fstatus <- d[[paste0(outcome, "_status")]]
  fit <- cuminc(ftime, fstatus, cencode = 0)
  tp <- timepoints(fit, c(365.25, 730.5))
  if ("1 1" %in% rownames(tp$est)) {
    show(sprintf("%s CIF 12/24 months", outcome), tp$est["1 1", ])
    show(sprintf("%s CIF 12/24 months (var)", outcome), tp$var["1 1", ])
  }
  events <- sum(fstatus == 1)
  py <- sum(ftime) / 365.25
  show(sprintf("%s rate /100py (rate, lower, upper)", outcome),
       100 * c(events / py, poisson.test(events, py)$conf.int))
}
lap("cuminc")

# ---------------------------------------------------------------- complications
for (outcome in c("fracture", "avn")) {
  ev <- d[[paste0(outcome, "_event")]]
  days <- d[[paste0(outcome, "_days")]]
  b <- binom.test(sum(ev), length(ev))
  show(sprintf("%s proportion (p, lower, upper)", outcome), c(b$estimate, b$conf.int))
  py <- sum(days) / 365.25
  p <- poisson.test(sum(ev), py)
  show(sprintf("%s rate /100py (rate, lower, upper)", outcome),
       100 * c(sum(ev) / py, p$conf.int))
}
lap("exact")
