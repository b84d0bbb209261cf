module github.com/ciro-network/ciro-node

go 1.26.8

require github.com/holiman/uint256 v1.3.2
