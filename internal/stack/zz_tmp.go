package stack

import "github.com/payment-dr/payment-dr/internal/config"

type tmpStatement struct {
	Sid       string
	Actions   []string
	Resources []string
}

func drStatementsTODO(cfg config.Config) []tmpStatement {
	return []tmpStatement{{Sid: "Tmp", Actions: []string{"rds:DescribeGlobalClusters"}, Resources: []string{"*"}}}
}
