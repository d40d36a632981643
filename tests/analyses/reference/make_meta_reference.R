# Reference values for tests/analyses/test_meta.py: DerSimonian-Laird random-effects
# meta-analysis with metafor (Debian's r-cran-metafor 3.8-1).  Run from this folder:
#   Rscript make_meta_reference.R
# Inputs (meta_input.csv): per site, events and person-years ("log rate": yi = log(k / T),
# vi = 1 / k) or x and n ("logit": yi = logit(x / n), vi = 1 / x + 1 / (n - x)).
library(metafor)
input <- read.csv("meta_input.csv", stringsAsFactors = FALSE)
rows <- list()
for (estimand in unique(input$estimand)) {
  d <- input[input$estimand == estimand, ]
  if (d$scale[1] == "log rate") {
    yi <- log(d$count / d$base); vi <- 1 / d$count
  } else {
    yi <- log(d$count / (d$base - d$count)); vi <- 1 / d$count + 1 / (d$base - d$count)
  }
  fit <- rma(yi = yi, vi = vi, method = "DL", level = 95)
  rows[[estimand]] <- data.frame(estimand = estimand, estimate = as.numeric(fit$b), se = fit$se,
                                 lower = fit$ci.lb, upper = fit$ci.ub, tau2 = fit$tau2, i2 = fit$I2 / 100,
                                 q = fit$QE, q_p = fit$QEp, k = fit$k)
}
out <- do.call(rbind, rows)
numbers <- sapply(out, is.numeric)
out[numbers] <- lapply(out[numbers], function(x) sprintf("%.17g", x))  # round-trips to the double
write.csv(out, "ref_meta.csv", row.names = FALSE, quote = FALSE)
