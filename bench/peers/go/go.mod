module devops-info-bench-peer

go 1.19
