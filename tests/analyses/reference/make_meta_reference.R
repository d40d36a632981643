# Reference values for tests/analyses/test_meta.py: DerSimonian-Laird and REML random-effects
# meta-analysis with metafor (Debian's r-cran-metafor 3.8-1).  Run from this folder:
#   Rscript make_meta_reference.R
# Inputs: meta_input.csv, per site, events and person-years ("log rate": yi = log(k / T),
# vi = 1 / k) or x and n ("logit": yi = logit(x / n), vi = 1 / x + 1 / (n - x)); and
# meta_effects_input.csv, per site, an effect yi (e.g. a Cox log hazard ratio) and its variance vi.
# Outputs: ref_meta.csv (DL on meta_input.csv) and ref_meta_methods.csv (DL and REML on both
# inputs).  REML runs metafor's Fisher scoring to a change in tau^2 below 1e-12 (its default
# threshold, 1e-5, leaves tau^2 up to about 1e-5 from the maximum): the reference is the maximum.
library(metafor)
fields <- function(fit, estimand, method) {
  data.frame(estimand = estimand, method = method, estimate = as.numeric(fit$b), se = fit$se,
             lower = fit$ci.lb, upper = fit$ci.ub, tau2 = fit$tau2, i2 = fit$I2 / 100,
             q = fit$QE, q_p = fit$QEp, k = fit$k)
}
exact <- function(out) {
  numbers <- sapply(out, is.numeric)
  out[numbers] <- lapply(out[numbers], function(x) sprintf("%.17g", x))  # round-trips to the double
  out
}
input <- read.csv("meta_input.csv", stringsAsFactors = FALSE)
effects <- read.csv("meta_effects_input.csv", stringsAsFactors = FALSE)
sets <- list()
for (estimand in unique(input$estimand)) {
  d <- input[input$estimand == estimand, ]
  if (d$scale[1] == "log rate") {
    yi <- log(d$count / d$base); vi <- 1 / d$count
  } else {
    yi <- log(d$count / (d$base - d$count)); vi <- 1 / d$count + 1 / (d$base - d$count)
  }
  sets[[estimand]] <- list(yi = yi, vi = vi)
}
for (estimand in unique(effects$estimand)) {
  d <- effects[effects$estimand == estimand, ]
  sets[[estimand]] <- list(yi = d$yi, vi = d$vi)
}
dl <- list(); both <- list()
for (estimand in names(sets)) {
  s <- sets[[estimand]]
  fit_dl <- rma(yi = s$yi, vi = s$vi, method = "DL", level = 95)
  fit_reml <- rma(yi = s$yi, vi = s$vi, method = "REML", level = 95,
                  control = list(threshold = 1e-12, maxiter = 10000))
  if (estimand %in% input$estimand) dl[[estimand]] <- fields(fit_dl, estimand, "DL")[, -2]
  both[[paste(estimand, "DL")]] <- fields(fit_dl, estimand, "DL")
  both[[paste(estimand, "REML")]] <- fields(fit_reml, estimand, "REML")
}
write.csv(exact(do.call(rbind, dl)), "ref_meta.csv", row.names = FALSE, quote = FALSE)
write.csv(exact(do.call(rbind, both)), "ref_meta_methods.csv", row.names = FALSE, quote = FALSE)
