module github.com/ciro-network/ciro-node

go 1.26.8

require github.com/holiman/uint256 v1.3.2

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/cosmos/ics23/go v0.10.0 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	golang.org/x/crypto v0.32.0 // indirect
)

require (
	github.com/cometbft/cometbft v1.0.1
	github.com/cometbft/cometbft/api v1.0.0 // indirect
	github.com/cosmos/gogoproto v1.7.0 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	github.com/google/go-cmp v0.6.0 // indirect
	golang.org/x/net v0.34.0 // indirect
	golang.org/x/sys v0.29.0 // indirect
	golang.org/x/text v0.21.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20241202173237-19429a94021a // indirect
	google.golang.org/grpc v1.70.0 // indirect
	google.golang.org/protobuf v1.36.4 // indirect
)
