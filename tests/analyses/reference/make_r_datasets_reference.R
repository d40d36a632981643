# make_r_datasets_reference.R -- references for the public estimators (toh.analyses.estimators)
# computed by R on R's OWN data sets, so the check does not rest on data this project made.
#
# Run from the repository root:
#     Rscript tests/analyses/reference/make_r_datasets_reference.R
# R 4.2.2, survival 3.5-3, cmprsk 2.2-11 (Debian bookworm; see README.md in this folder).
# Deterministic: two runs write byte-identical files.  Numbers with sprintf("%.17g");
# NA -> empty field, Inf -> "Inf".
#
# Data written to tests/analyses/data/ (columns exactly as used by the tests):
#  r_lung.csv     survival::lung: time, status (1 censored, 2 dead), sex (1 male, 2 female)
#  r_aml.csv      survival::aml: time, status (0/1), x (Maintained / Nonmaintained)
#  r_ovarian.csv  survival::ovarian: futime, fustat (0/1), rx (1/2)
#  r_mgus2_cr.csv competing risks built from survival::mgus2 as in the survival package's
#                 "compete" vignette: time = ptime if progression (pstat = 1) else futime;
#                 status 1 progression to plasma-cell malignancy, 2 death without it,
#                 0 censored; sex F/M.  1,384 rows, months.
#  r_gray_zero.csv  hand-made: time, status, group (a/b/c); every patient of group a has an
#                 event by t = 3, so a's survival is 0 before later events of b and c.
#  r_lung_visits.csv / r_ovarian_visits.csv  interval-censored versions of lung and ovarian:
#                 the event is only known to lie between two scheduled visits (every 60 days
#                 for lung, 90 for ovarian): lo = width * (ceiling(t / width) - 1),
#                 hi = width * ceiling(t / width); a censored patient is known event-free at
#                 the last visit: lo = width * floor(t / width), hi = Inf.
#  r_lung_irregular.csv  the same for lung with visit schedules that differ between patients
#                 (every 30, 45, 60 or 90 days, by row number), so intervals overlap and the
#                 NPMLE needs a real EM.
#
# References written to tests/analyses/reference/:
#  ref_r_km.csv        dataset, group, conf_level, time, n_risk, n_event, n_censor, surv,
#                      std_err, lower, upper:  survfit(Surv(t, e) ~ 1, conf.type = "log-log",
#                      conf.int = conf_level) per dataset/group; std_err is fit$std.err (the
#                      standard error of the cumulative hazard, Inf where S reaches 0).
#  ref_r_km_quantile.csv  dataset, group, conf_level, prob, quantile, lower, upper:
#                      quantile(fit, probs = c(0.25, 0.5, 0.75)).
#  ref_r_cuminc.csv    conf_level, cause, time, est, var, lower, upper:
#                      cuminc(time, status, cencode = 0) + timepoints(fit, times), times = every
#                      distinct time and 6, 12, 60, 120, 240, 360 months; lower/upper are the
#                      log(-log) interval est^exp(-+z sqrt(var) / (est log est)) (tidycmprsk's
#                      formula, computed here from cuminc's est and var).
#  ref_r_gray.csv      dataset, rho, cause, stat, p, df:  cuminc(..., group = , rho = )$Tests
#                      for r_mgus2_cr by sex and r_gray_zero by group.
#  ref_r_binom.csv     x, n, conf_level, lower, upper:  binom.test(x, n, p)$conf.int; p = 0
#                      for x = 0 and 1e-20 otherwise for n >= 1e6 (only to keep binom.test's
#                      two-sided p-value from allocating n numbers; the interval does not
#                      depend on p), 0.5 otherwise.
#  ref_r_wilson.csv    x, n, conf_level, lower, upper:  prop.test(x, n, correct = FALSE)$conf.int.
#  ref_r_poisson.csv   x, time, conf_level, estimate, lower, upper:  poisson.test(x, time, r)
#                      with r = x / time (1e-20 / time for x = 0), for speed only as above.
#  ref_r_turnbull.csv  dataset, time, surv:  survfit(Surv(lo, hi, type = "interval2") ~ 1)
#                      (hi = NA for Inf); R's EM stops at 5e-5 and puts jumps mid-interval.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

ref_dir  <- "tests/analyses/reference"
data_dir <- "tests/analyses/data"

fmt_num <- function(x) {
  x <- as.numeric(x)
  out <- sprintf("%.17g", x)
  out[is.na(x)] <- ""
  out[!is.na(x) & is.infinite(x) & x > 0] <- "Inf"
  out[!is.na(x) & is.infinite(x) & x < 0] <- "-Inf"
  out
}

write_ref <- function(df, file, dir = ref_dir) {
  cols <- lapply(df, function(col) if (is.numeric(col)) fmt_num(col) else as.character(col))
  lines <- c(paste(names(df), collapse = ","),
             if (nrow(df) > 0) do.call(paste, c(cols, sep = ",")))
  writeLines(lines, file.path(dir, file))
  invisible(df)
}

# ---------------------------------------------------------------- data
lung_d <- data.frame(time = lung$time, status = lung$status, sex = lung$sex)
aml_d <- data.frame(time = aml$time, status = aml$status, x = as.character(aml$x))
ovarian_d <- data.frame(futime = ovarian$futime, fustat = ovarian$fustat, rx = ovarian$rx)
mg <- data.frame(
  time = ifelse(mgus2$pstat == 1, mgus2$ptime, mgus2$futime),
  status = ifelse(mgus2$pstat == 1, 1, 2 * mgus2$death),
  sex = as.character(mgus2$sex)
)
zero <- data.frame(
  time   = c(1, 2, 3,   1.5, 4, 5, 6, 7, 9, 10,   2.5, 4.5, 5.5, 8, 9.5, 11, 12),
  status = c(1, 2, 1,   1, 2, 1, 0, 1, 2, 1,      2, 1, 0, 1, 1, 2, 0),
  group  = c(rep("a", 3), rep("b", 7), rep("c", 7))
)
visits <- function(t, event, width) {  # width: one number or one per patient
  k <- ceiling(t / width)
  data.frame(lo = ifelse(event, width * (k - 1), width * floor(t / width)),
             hi = ifelse(event, width * k, Inf))
}
lung_v <- visits(lung$time, lung$status == 2, 60)
ovarian_v <- visits(ovarian$futime, ovarian$fustat == 1, 90)
lung_i <- visits(lung$time, lung$status == 2, c(30, 45, 60, 90)[(seq_len(nrow(lung)) - 1) %% 4 + 1])

write_ref(lung_d, "r_lung.csv", data_dir)
write_ref(aml_d, "r_aml.csv", data_dir)
write_ref(ovarian_d, "r_ovarian.csv", data_dir)
write_ref(mg, "r_mgus2_cr.csv", data_dir)
write_ref(zero, "r_gray_zero.csv", data_dir)
write_ref(lung_v, "r_lung_visits.csv", data_dir)
write_ref(ovarian_v, "r_ovarian_visits.csv", data_dir)
write_ref(lung_i, "r_lung_irregular.csv", data_dir)

# ---------------------------------------------------------------- Kaplan-Meier and quantiles
fits <- list(
  list("lung", "all", 0.95, lung_d$time, lung_d$status == 2),
  list("lung", "all", 0.90, lung_d$time, lung_d$status == 2),
  list("lung", "sex=1", 0.95, lung_d$time[lung_d$sex == 1], lung_d$status[lung_d$sex == 1] == 2),
  list("lung", "sex=2", 0.95, lung_d$time[lung_d$sex == 2], lung_d$status[lung_d$sex == 2] == 2),
  list("aml", "all", 0.95, aml_d$time, aml_d$status == 1),
  list("aml", "Maintained", 0.95, aml_d$time[aml_d$x == "Maintained"],
       aml_d$status[aml_d$x == "Maintained"] == 1),
  list("aml", "Nonmaintained", 0.95, aml_d$time[aml_d$x == "Nonmaintained"],
       aml_d$status[aml_d$x == "Nonmaintained"] == 1),
  list("aml", "Nonmaintained", 0.80, aml_d$time[aml_d$x == "Nonmaintained"],
       aml_d$status[aml_d$x == "Nonmaintained"] == 1),
  list("ovarian", "all", 0.95, ovarian_d$futime, ovarian_d$fustat == 1)
)
km_rows <- list(); q_rows <- list()
for (f in fits) {
  fit <- survfit(Surv(f[[4]], f[[5]]) ~ 1, conf.type = "log-log", conf.int = f[[3]])
  km_rows[[length(km_rows) + 1]] <- data.frame(
    dataset = f[[1]], group = f[[2]], conf_level = f[[3]], time = fit$time, n_risk = fit$n.risk,
    n_event = fit$n.event, n_censor = fit$n.censor, surv = fit$surv, std_err = fit$std.err,
    lower = fit$lower, upper = fit$upper)
  probs <- c(0.25, 0.5, 0.75)
  q <- quantile(fit, probs = probs)
  q_rows[[length(q_rows) + 1]] <- data.frame(
    dataset = f[[1]], group = f[[2]], conf_level = f[[3]], prob = probs,
    quantile = unname(q$quantile), lower = unname(q$lower), upper = unname(q$upper))
}
write_ref(do.call(rbind, km_rows), "ref_r_km.csv")
write_ref(do.call(rbind, q_rows), "ref_r_km_quantile.csv")

# ---------------------------------------------------------------- cumulative incidence
ci_fit <- cuminc(mg$time, mg$status, cencode = 0)
times <- sort(unique(c(mg$time, 6, 12, 60, 120, 240, 360)))
tp <- timepoints(ci_fit, times)
cif_rows <- list()
for (conf in c(0.95, 0.90)) {
  z <- qnorm(1 - (1 - conf) / 2)
  for (cause in 1:2) {
    est <- tp$est[paste("1", cause), ]
    v <- tp$var[paste("1", cause), ]
    cc <- z * sqrt(v) / (est * log(est))
    a <- est^exp(cc); b <- est^exp(-cc)
    inside <- !is.na(est) & est > 0 & est < 1
    cif_rows[[length(cif_rows) + 1]] <- data.frame(
      conf_level = conf, cause = cause, time = times, est = unname(est), var = unname(v),
      lower = ifelse(inside, pmin(a, b), NA), upper = ifelse(inside, pmax(a, b), NA))
  }
}
write_ref(do.call(rbind, cif_rows), "ref_r_cuminc.csv")

# ---------------------------------------------------------------- Gray's test
gray_rows <- list()
for (rho in c(0, 1)) {
  for (set in c("mgus2_cr", "gray_zero")) {
    d <- if (set == "mgus2_cr") data.frame(time = mg$time, status = mg$status, group = mg$sex) else zero
    tst <- cuminc(d$time, d$status, group = d$group, rho = rho, cencode = 0)$Tests
    gray_rows[[length(gray_rows) + 1]] <- data.frame(
      dataset = set, rho = rho, cause = as.integer(rownames(tst)), stat = tst[, "stat"],
      p = tst[, "pv"], df = tst[, "df"])
  }
}
write_ref(do.call(rbind, gray_rows), "ref_r_gray.csv")

# ---------------------------------------------------------------- proportions and rates
deaths <- sum(lung$status == 2)
binom_cases <- data.frame(
  x = c(0, 3, 10, deaths, 0, 1, 2, 1, 1e11 - 1, 1e11, 3, deaths),
  n = c(10, 10, 10, nrow(lung), 1e11, 1e11, 1e11, 1e6, 1e11, 1e11, 10, nrow(lung)),
  conf_level = c(rep(0.95, 10), 0.90, 0.99)
)
binom_rows <- list()
for (i in seq_len(nrow(binom_cases))) {
  x <- binom_cases$x[i]; n <- binom_cases$n[i]; conf <- binom_cases$conf_level[i]
  p <- if (n < 1e6) 0.5 else if (x == 0) 0 else if (x == n) 1 else 1e-20
  ci <- binom.test(x, n, p = p, conf.level = conf)$conf.int
  binom_rows[[i]] <- data.frame(x = x, n = n, conf_level = conf, lower = ci[1], upper = ci[2])
}
write_ref(do.call(rbind, binom_rows), "ref_r_binom.csv")

wilson_cases <- data.frame(x = c(0, 3, 10, deaths, 1, 3, deaths),
                           n = c(10, 10, 10, nrow(lung), 1e6, 10, nrow(lung)),
                           conf_level = c(rep(0.95, 5), 0.90, 0.99))
wilson_rows <- list()
for (i in seq_len(nrow(wilson_cases))) {
  x <- wilson_cases$x[i]; n <- wilson_cases$n[i]; conf <- wilson_cases$conf_level[i]
  ci <- suppressWarnings(prop.test(x, n, correct = FALSE, conf.level = conf))$conf.int
  wilson_rows[[i]] <- data.frame(x = x, n = n, conf_level = conf, lower = ci[1], upper = ci[2])
}
write_ref(do.call(rbind, wilson_rows), "ref_r_wilson.csv")

person_years <- sum(lung$time) / 365.25
pois_cases <- data.frame(x = c(0, 1, 5, deaths, 2, deaths),
                         time = c(10, 10, 123.4, person_years, 1e9, person_years),
                         conf_level = c(rep(0.95, 5), 0.90))
pois_rows <- list()
for (i in seq_len(nrow(pois_cases))) {
  x <- pois_cases$x[i]; tt <- pois_cases$time[i]
  # r = x / time (a tiny rate for x = 0) keeps poisson.test's two-sided p-value from
  # enumerating about r * time counts; the interval does not depend on r
  r <- poisson.test(x, tt, r = max(x, 1e-20) / tt, conf.level = pois_cases$conf_level[i])
  pois_rows[[i]] <- data.frame(x = pois_cases$x[i], time = pois_cases$time[i],
                               conf_level = pois_cases$conf_level[i], estimate = unname(r$estimate),
                               lower = r$conf.int[1], upper = r$conf.int[2])
}
write_ref(do.call(rbind, pois_rows), "ref_r_poisson.csv")

# ---------------------------------------------------------------- Turnbull (interval2)
tb_rows <- list()
for (set in c("lung_visits", "ovarian_visits", "lung_irregular")) {
  v <- switch(set, lung_visits = lung_v, ovarian_visits = ovarian_v, lung_irregular = lung_i)
  hi <- ifelse(is.infinite(v$hi), NA, v$hi)
  tfit <- survfit(Surv(v$lo, hi, type = "interval2") ~ 1)
  tb_rows[[length(tb_rows) + 1]] <- data.frame(dataset = set, time = tfit$time, surv = tfit$surv)
}
write_ref(do.call(rbind, tb_rows), "ref_r_turnbull.csv")
