# make_reference.R -- R reference values for the toh-cohort analysis tests.
#
# Run from the repository root:
#     Rscript tests/analyses/reference/make_reference.R
#
# Input:  tests/analyses/data/ref_index.csv (one row per patient; True/False
#         are Python-style strings and are converted to logical here).
# Also writes the small hand-checkable edge datasets
#         tests/analyses/data/edge_{half,ties,censored_last,cr}.csv
#
# Every number is written with sprintf("%.17g"); NA -> empty field,
# Inf -> "Inf", -Inf -> "-Inf".
#
# Output files (all in tests/analyses/reference/):
#  ref_km.csv          group_var, group, time, n_risk, n_event, n_censor, surv, lower, upper
#                      survfit(Surv(resolution_days, resolved) ~ 1, conf.type = "log-log"),
#                      fitted separately per group (subset): all; sex (M, F);
#                      pregnancy (women with non-missing pregnancy_associated; True/False);
#                      treatment (each level). One row per fit$time; 95% CI.
#  ref_km_summary.csv  group_var, group, quantity, value for the same fits:
#                      median/median_lower/median_upper  <- summary(fit)$table
#                        ("median", "0.95LCL", "0.95UCL"; same as quantile(fit, 0.5));
#                      surv_t/lower_t/upper_t/n_risk_t   <- summary(fit, times = t, extend = TRUE),
#                        t in 182.625, 243.5, 365.25;
#                      rmean_tau/rmean_se_tau            <- summary(fit, rmean = tau)$table
#                        ("rmean", "se(rmean)"), tau in 365.25, 730.5.
#  ref_logrank.csv     group_var, chisq, df, p
#                      survdiff(Surv(resolution_days, resolved) ~ g); df = (#groups with
#                      expected > 0) - 1; p = pchisq(chisq, df, lower.tail = FALSE)
#                      (= survdiff()$pvalue). g = sex (all), pregnancy (women with
#                      non-missing pregnancy_associated), treatment (all).
#  ref_cox.csv         term, coef, se, hr, lower, upper, z, p
#                      coxph(Surv(resolution_days, resolved) ~ male + age +
#                            pregnancy_associated + treatment, ties = "efron"),
#                      complete cases; treatment reference level "conservative" (most
#                      frequent). lower/upper = exp(coef -+ qnorm(0.975) * se);
#                      p = summary(fit)$coefficients[, "Pr(>|z|)"] (Wald).
#  ref_cox_fit.csv     quantity, value: n, nevent, loglik_null (fit$loglik[1]),
#                      loglik_model (fit$loglik[2]), concordance (fit$concordance["concordance"]).
#  ref_coxzph.csv      term, chisq, df, p   cox.zph(fit) (transform = "km", terms = TRUE),
#                      treatment one term with df 2, plus GLOBAL.
#  ref_coxzph_single.csv  same columns from cox.zph(fit, terms = FALSE) (one row per coef).
#  ref_cuminc.csv      outcome, cause, time, est, var
#                      cmprsk::cuminc(ftime, fstatus, cencode = 0) then
#                      timepoints(fit, times), times = {182.625, 365.25, 730.5, 1095.75}
#                      union all distinct ftime with fstatus != 0; outcomes recurrence,
#                      migration; causes 1 and 2.
#  ref_gray.csv        outcome, cause, stat, p, df
#                      cuminc(ftime, fstatus, group = sex, cencode = 0)$Tests.
#  ref_exact.csv       quantity, x, n, estimate, lower, upper, p
#                      binom.test / prop.test(correct = FALSE) / poisson.test and a Wald
#                      log-scale risk ratio (cross-checked against
#                      epitools::riskratio(method = "wald")).
#  ref_weibull.csv     quantity, value
#                      survreg(Surv(lo, hi, type = "interval2") ~ 1, dist = "weibull"),
#                      lo = xr_lower_day (NA if 0), hi = xr_upper_day (NA if Inf);
#                      intercept, log_scale, scale, loglik (fit$loglik[2]), n,
#                      surv_28/56/84 = 1 - pweibull(t, 1/scale, exp(intercept)),
#                      median = qweibull(0.5, 1/scale, exp(intercept)).
#  ref_turnbull_r.csv  time, surv
#                      survfit(Surv(xr_lower_day, hi2, type = "interval2") ~ 1),
#                      hi2 = xr_upper_day with Inf -> NA (Turnbull NPMLE; R's EM stops at a
#                      loose tolerance: only a ~1e-3 reference).
#  ref_edge_km.csv     dataset, time, n_risk, n_event, n_censor, surv, lower, upper
#                      survfit(Surv(time, status) ~ 1, conf.type = "log-log") on
#                      edge_half, edge_ties, edge_censored_last.
#  ref_edge_km_summary.csv  dataset, quantity, value: median, median_lower, median_upper.
#  ref_edge_cuminc.csv dataset, cause, time, est, var
#                      cuminc(time, status, cencode = 0) + timepoints at every distinct
#                      time of edge_cr.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(epitools)
})

ref_dir  <- "tests/analyses/reference"
data_dir <- "tests/analyses/data"

# ---------------------------------------------------------------- helpers
fmt_num <- function(x) {
  x <- as.numeric(x)
  out <- sprintf("%.17g", x)
  out[is.na(x)] <- ""
  out[!is.na(x) & is.infinite(x) & x > 0] <- "Inf"
  out[!is.na(x) & is.infinite(x) & x < 0] <- "-Inf"
  out
}

csv_field <- function(s) {
  s <- as.character(s)
  s[is.na(s)] <- ""
  need <- grepl("[\",\n]", s)
  s[need] <- paste0("\"", gsub("\"", "\"\"", s[need]), "\"")
  s
}

# df: data.frame; numeric columns are formatted with %.17g, others as text.
write_ref <- function(df, file, dir = ref_dir) {
  cols <- lapply(df, function(col) {
    if (is.numeric(col)) fmt_num(col) else csv_field(col)
  })
  lines <- c(paste(names(df), collapse = ","),
             if (nrow(df) > 0) do.call(paste, c(cols, sep = ",")))
  writeLines(lines, file.path(dir, file))
  invisible(df)
}

as_bool <- function(x) {
  x <- trimws(as.character(x))
  out <- rep(NA, length(x))
  out[x %in% c("True", "TRUE", "true", "1")] <- TRUE
  out[x %in% c("False", "FALSE", "false", "0")] <- FALSE
  out
}

# ---------------------------------------------------------------- data
d <- read.csv(file.path(data_dir, "ref_index.csv"), stringsAsFactors = FALSE,
              na.strings = c("", "NA"))
for (v in c("pregnancy_associated", "bilateral", "resolved",
            "fracture_event", "avn_event", "died")) {
  d[[v]] <- as_bool(d[[v]])
}
# xr_upper_day: "inf" -> Inf (read.csv already does this; be explicit)
d$xr_upper_day <- suppressWarnings(as.numeric(ifelse(
  tolower(as.character(d$xr_upper_day)) == "inf", "Inf", as.character(d$xr_upper_day))))

# ---------------------------------------------------------------- a/b: KM
km_groups <- list()
km_groups[[length(km_groups) + 1]] <- list("all", "all", d)
for (s in c("M", "F")) {
  km_groups[[length(km_groups) + 1]] <- list("sex", s, d[d$sex == s, ])
}
women <- d[d$sex == "F" & !is.na(d$pregnancy_associated), ]
for (p in c(TRUE, FALSE)) {
  km_groups[[length(km_groups) + 1]] <-
    list("pregnancy", if (p) "True" else "False", women[women$pregnancy_associated == p, ])
}
for (tr in sort(unique(d$treatment))) {
  km_groups[[length(km_groups) + 1]] <- list("treatment", tr, d[d$treatment == tr, ])
}

km_table <- function(fit) {
  data.frame(time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
             n_censor = fit$n.censor, surv = fit$surv,
             lower = fit$lower, upper = fit$upper)
}

km_summary <- function(fit, times = c(182.625, 243.5, 365.25),
                       taus = c(365.25, 730.5), med_only = FALSE) {
  tab <- summary(fit)$table
  q <- c(median = unname(tab["median"]),
         median_lower = unname(tab["0.95LCL"]),
         median_upper = unname(tab["0.95UCL"]))
  # consistency with quantile()
  qq <- quantile(fit, 0.5)
  stopifnot(isTRUE(all.equal(unname(c(qq$quantile, qq$lower, qq$upper)), unname(q))))
  if (med_only) return(q)
  tlab <- format_t(times)
  for (i in seq_along(times)) {
    s <- summary(fit, times = times[i], extend = TRUE)
    q[paste0("surv_", tlab[i])]   <- s$surv
    q[paste0("lower_", tlab[i])]  <- s$lower
    q[paste0("upper_", tlab[i])]  <- s$upper
    q[paste0("n_risk_", tlab[i])] <- s$n.risk
  }
  taulab <- format_t(taus)
  for (i in seq_along(taus)) {
    tb <- summary(fit, rmean = taus[i])$table
    q[paste0("rmean_", taulab[i])]    <- tb["rmean"]
    q[paste0("rmean_se_", taulab[i])] <- tb["se(rmean)"]
  }
  q
}

format_t <- function(t) format(t, trim = TRUE, scientific = FALSE, drop0trailing = TRUE,
                               nsmall = 0, digits = 15)

km_rows <- list(); kms_rows <- list()
for (g in km_groups) {
  fit <- survfit(Surv(resolution_days, resolved) ~ 1, data = g[[3]], conf.type = "log-log")
  km_rows[[length(km_rows) + 1]] <- cbind(group_var = g[[1]], group = g[[2]], km_table(fit))
  q <- km_summary(fit)
  kms_rows[[length(kms_rows) + 1]] <- data.frame(group_var = g[[1]], group = g[[2]],
                                                 quantity = names(q), value = unname(q))
}
write_ref(do.call(rbind, km_rows), "ref_km.csv")
write_ref(do.call(rbind, kms_rows), "ref_km_summary.csv")

# ---------------------------------------------------------------- c: log-rank
logrank <- function(time, status, g) {
  sd <- survdiff(Surv(time, status) ~ g)
  df <- sum(sd$exp > 0) - 1
  p <- pchisq(sd$chisq, df, lower.tail = FALSE)
  stopifnot(isTRUE(all.equal(p, sd$pvalue)))
  c(chisq = sd$chisq, df = df, p = p)
}
lr <- rbind(
  sex = logrank(d$resolution_days, d$resolved, d$sex),
  pregnancy = logrank(women$resolution_days, women$resolved, women$pregnancy_associated),
  treatment = logrank(d$resolution_days, d$resolved, d$treatment))
write_ref(data.frame(group_var = rownames(lr), chisq = lr[, "chisq"], df = lr[, "df"],
                     p = lr[, "p"]), "ref_logrank.csv")

# ---------------------------------------------------------------- d: Cox
cd <- data.frame(time = d$resolution_days, status = d$resolved,
                 male = d$sex == "M", age = d$age_at_onset,
                 pregnancy_associated = d$pregnancy_associated,
                 treatment = d$treatment)
cd <- cd[complete.cases(cd), ]
tr_ref <- names(sort(table(cd$treatment), decreasing = TRUE))[1]
stopifnot(tr_ref == "conservative")
cd$treatment <- relevel(factor(cd$treatment), ref = tr_ref)
cfit <- coxph(Surv(time, status) ~ male + age + pregnancy_associated + treatment,
              data = cd, ties = "efron")
rename_terms <- function(x) {
  x <- sub("^maleTRUE$", "male", x)
  x <- sub("^pregnancy_associatedTRUE$", "pregnancy_associated", x)
  sub("^treatment(.+)$", "treatment_\\1", x)
}
cs <- summary(cfit)$coefficients
z975 <- qnorm(0.975)
write_ref(data.frame(term = rename_terms(rownames(cs)), coef = cs[, "coef"],
                     se = cs[, "se(coef)"], hr = cs[, "exp(coef)"],
                     lower = exp(cs[, "coef"] - z975 * cs[, "se(coef)"]),
                     upper = exp(cs[, "coef"] + z975 * cs[, "se(coef)"]),
                     z = cs[, "z"], p = cs[, "Pr(>|z|)"]), "ref_cox.csv")
write_ref(data.frame(quantity = c("n", "nevent", "loglik_null", "loglik_model", "concordance"),
                     value = c(cfit$n, cfit$nevent, cfit$loglik[1], cfit$loglik[2],
                               unname(cfit$concordance["concordance"]))), "ref_cox_fit.csv")
zph <- cox.zph(cfit)
write_ref(data.frame(term = rename_terms(rownames(zph$table)), chisq = zph$table[, "chisq"],
                     df = zph$table[, "df"], p = zph$table[, "p"]), "ref_coxzph.csv")
zph1 <- cox.zph(cfit, terms = FALSE)
write_ref(data.frame(term = rename_terms(rownames(zph1$table)), chisq = zph1$table[, "chisq"],
                     df = zph1$table[, "df"], p = zph1$table[, "p"]), "ref_coxzph_single.csv")

# ---------------------------------------------------------------- e: cumulative incidence
cuminc_rows <- function(ftime, fstatus, times, label_col, label) {
  fit <- cuminc(ftime, fstatus, cencode = 0)
  tp <- timepoints(fit, times)
  rows <- list()
  for (cause in c("1", "2")) {
    key <- paste("1", cause)
    if (!key %in% rownames(tp$est)) next
    df <- data.frame(label = label, cause = as.integer(cause), time = as.numeric(colnames(tp$est)),
                     est = unname(tp$est[key, ]), var = unname(tp$var[key, ]))
    names(df)[1] <- label_col
    rows[[length(rows) + 1]] <- df
  }
  do.call(rbind, rows)
}
fixed_t <- c(182.625, 365.25, 730.5, 1095.75)
ci_rows <- list(); gray_rows <- list()
for (o in c("recurrence", "migration")) {
  ft <- d[[paste0(o, "_days")]]; fs <- d[[paste0(o, "_status")]]
  times <- sort(unique(c(fixed_t, ft[fs != 0])))
  ci_rows[[o]] <- cuminc_rows(ft, fs, times, "outcome", o)
  gfit <- cuminc(ft, fs, group = d$sex, cencode = 0)
  tst <- gfit$Tests
  gray_rows[[o]] <- data.frame(outcome = o, cause = as.integer(rownames(tst)),
                               stat = tst[, "stat"], p = tst[, "pv"], df = tst[, "df"])
}
write_ref(do.call(rbind, ci_rows), "ref_cuminc.csv")
write_ref(do.call(rbind, gray_rows), "ref_gray.csv")

# ---------------------------------------------------------------- f: exact tests / rates
ex <- list()
add_ex <- function(quantity, x, n, estimate, lower, upper, p = NA_real_) {
  ex[[length(ex) + 1]] <<- data.frame(quantity = quantity, x = x, n = n, estimate = estimate,
                                      lower = lower, upper = upper, p = p)
}
n_all <- nrow(d); n_men <- sum(d$sex == "M")
bt <- binom.test(n_men, n_all)
add_ex("men_share", n_men, n_all, n_men / n_all, bt$conf.int[1], bt$conf.int[2],
       binom.test(n_men, n_all, p = 0.75)$p.value)
pt <- prop.test(n_men, n_all, correct = FALSE)
add_ex("men_share_wilson", n_men, n_all, n_men / n_all, pt$conf.int[1], pt$conf.int[2],
       prop.test(n_men, n_all, p = 0.75, correct = FALSE)$p.value)

dp <- d[!is.na(d$pregnancy_associated), ]
bin_row <- function(q, ev) {
  x <- sum(ev); n <- length(ev); b <- binom.test(x, n)
  add_ex(q, x, n, x / n, b$conf.int[1], b$conf.int[2])
}
bin_row("fracture_all", d$fracture_event)
bin_row("fracture_pregnancy_True", dp$fracture_event[dp$pregnancy_associated])
bin_row("fracture_pregnancy_False", dp$fracture_event[!dp$pregnancy_associated])
bin_row("avn_all", d$avn_event)

rate_row <- function(q, ev, days) {
  x <- sum(ev); py <- sum(days) / 365.25; pt <- poisson.test(x, py)
  add_ex(q, x, py, 100 * x / py, 100 * pt$conf.int[1], 100 * pt$conf.int[2])
}
rate_row("fracture_rate_all", d$fracture_event, d$fracture_days)
rate_row("fracture_rate_pregnancy_True", dp$fracture_event[dp$pregnancy_associated],
         dp$fracture_days[dp$pregnancy_associated])
rate_row("fracture_rate_pregnancy_False", dp$fracture_event[!dp$pregnancy_associated],
         dp$fracture_days[!dp$pregnancy_associated])
rate_row("avn_rate_all", d$avn_event, d$avn_days)

x1 <- sum(dp$fracture_event[dp$pregnancy_associated]); n1 <- sum(dp$pregnancy_associated)
x0 <- sum(dp$fracture_event[!dp$pregnancy_associated]); n0 <- sum(!dp$pregnancy_associated)
rr <- (x1 / n1) / (x0 / n0)
se_log_rr <- sqrt(1 / x1 - 1 / n1 + 1 / x0 - 1 / n0)
zc <- 1.959963984540054
rr_ci <- exp(log(rr) + c(-1, 1) * zc * se_log_rr)
# x1, n1 hold the exposed (pregnancy True) group, x0, n0 the reference (False) group
add_ex("fracture_risk_ratio", x1, n1, rr, rr_ci[1], rr_ci[2])
# epitools: rows = exposure (first row = reference), columns = (no event, event)
tab <- matrix(c(n0 - x0, x0, n1 - x1, x1), nrow = 2, byrow = TRUE,
              dimnames = list(pregnancy = c("False", "True"), fracture = c("no", "yes")))
ep <- riskratio(tab, method = "wald")$measure["True", ]
ep_diff <- max(abs(c(ep["estimate"], ep["lower"], ep["upper"]) - c(rr, rr_ci)) / c(rr, rr_ci))
cat(sprintf("epitools riskratio wald: %.17g [%.17g, %.17g]; max rel diff vs manual = %.3g\n",
            ep["estimate"], ep["lower"], ep["upper"], ep_diff))
stopifnot(ep_diff < 1e-12)
write_ref(do.call(rbind, ex), "ref_exact.csv")

# ---------------------------------------------------------------- g: interval-censored
films <- d[!(is.na(d$xr_lower_day) & is.na(d$xr_upper_day)), ]
lo <- ifelse(films$xr_lower_day == 0, NA, films$xr_lower_day)
hi <- ifelse(is.infinite(films$xr_upper_day), NA, films$xr_upper_day)
wfit <- survreg(Surv(lo, hi, type = "interval2") ~ 1, dist = "weibull")
b0 <- unname(coef(wfit)[1]); sc <- wfit$scale
wq <- c(intercept = b0, log_scale = log(sc), scale = sc, loglik = wfit$loglik[2],
        n = length(wfit$linear.predictors))
for (t in c(28, 56, 84)) {
  wq[paste0("surv_", t)] <- 1 - pweibull(t, shape = 1 / sc, scale = exp(b0))
}
wq["median"] <- qweibull(0.5, shape = 1 / sc, scale = exp(b0))
write_ref(data.frame(quantity = names(wq), value = unname(wq)), "ref_weibull.csv")

lo2 <- films$xr_lower_day
hi2 <- ifelse(is.infinite(films$xr_upper_day), NA, films$xr_upper_day)
tfit <- survfit(Surv(lo2, hi2, type = "interval2") ~ 1)
write_ref(data.frame(time = tfit$time, surv = tfit$surv), "ref_turnbull_r.csv")

# ---------------------------------------------------------------- 4: edge datasets
edge <- list(
  half = data.frame(time = c(1, 2, 3, 4), status = c(1, 1, 1, 1)),
  ties = data.frame(time   = c(2, 2, 2, 3, 3, 5, 5, 5, 8, 8, 9, 12),
                    status = c(1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0)),
  censored_last = data.frame(time   = c(1, 2, 2, 4, 5, 7, 9, 11),
                             status = c(1, 1, 0, 1, 0, 1, 1, 0)),
  cr = data.frame(time   = c(1, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6, 7, 8, 8, 10),
                  status = c(1, 1, 2, 0, 0, 2, 1, 0, 1, 0, 2, 1, 2, 1, 0))
)
for (nm in names(edge)) {
  write_ref(edge[[nm]], paste0("edge_", nm, ".csv"), dir = data_dir)
}
ekm <- list(); eks <- list()
for (nm in c("half", "ties", "censored_last")) {
  e <- edge[[nm]]
  fit <- survfit(Surv(time, status) ~ 1, data = e, conf.type = "log-log")
  ekm[[nm]] <- cbind(dataset = paste0("edge_", nm), km_table(fit))
  q <- km_summary(fit, med_only = TRUE)
  eks[[nm]] <- data.frame(dataset = paste0("edge_", nm), quantity = names(q), value = unname(q))
}
write_ref(do.call(rbind, ekm), "ref_edge_km.csv")
write_ref(do.call(rbind, eks), "ref_edge_km_summary.csv")
ecr <- edge$cr
write_ref(cuminc_rows(ecr$time, ecr$status, sort(unique(ecr$time)), "dataset", "edge_cr"),
          "ref_edge_cuminc.csv")

cat("R:", R.version.string, "\n")
for (p in c("survival", "cmprsk", "epitools")) cat(p, as.character(packageVersion(p)), "\n")
cat("done\n")
