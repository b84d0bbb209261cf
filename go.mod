module github.com/ciro-network/ciro-node

go 1.26.8
