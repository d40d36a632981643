# Gray's test (cmprsk::cuminc()$Tests) for three groups and for ties between causes, the
# references of tests/analyses/test_gray.py beyond ref_gray.csv (two groups, by sex, made by
# make_reference.R).  Run from this folder:  Rscript make_gray_reference.R
# R 4.2.2, cmprsk 2.2-11.  Writes ref_gray_k3.csv.
suppressPackageStartupMessages(library(cmprsk))
d <- read.csv("../data/ref_index.csv", stringsAsFactors = FALSE)
rows <- list()
for (o in c("recurrence", "migration")) {
  for (rho in c(0, 1)) {
    fit <- cuminc(d[[paste0(o, "_days")]], d[[paste0(o, "_status")]], group = d$treatment, rho = rho, cencode = 0)
    tst <- fit$Tests
    rows[[length(rows) + 1]] <- data.frame(data = o, grouping = "treatment", rho = rho,
                                           cause = as.integer(rownames(tst)), stat = tst[, "stat"],
                                           p = tst[, "pv"], df = tst[, "df"])
  }
}
# hand-sized data with ties between causes and within groups (edge_cr.csv, groups a/b/c by row)
e <- read.csv("../data/edge_cr.csv")
e$group <- rep(c("a", "b", "c"), length.out = nrow(e))
fit <- cuminc(e$time, e$status, group = e$group, cencode = 0)
tst <- fit$Tests
rows[[length(rows) + 1]] <- data.frame(data = "edge_cr", grouping = "row mod 3", rho = 0,
                                       cause = as.integer(rownames(tst)), stat = tst[, "stat"],
                                       p = tst[, "pv"], df = tst[, "df"])
out <- do.call(rbind, rows)
write.csv(format(out, digits = 17), "ref_gray_k3.csv", row.names = FALSE, quote = FALSE)
