// Command synth synthesizes every stack of one payment-dr environment into
// a cloud assembly (cdk.out) without AWS credentials. Deploy the result with
// the pinned CDK CLI in stages (scripts/deploy.sh, make deploy); -describe
// prints the names that script needs.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/payment-dr/payment-dr/internal/awslimits"
	"github.com/payment-dr/payment-dr/internal/config"
	"github.com/payment-dr/payment-dr/internal/stack"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	cfgPath := fs.String("config", envOr("PAYMENT_DR_CONFIG", "config/dev.json"), "configuration file (env PAYMENT_DR_CONFIG)")
	out := fs.String("out", "cdk.out", "cloud assembly output directory")
	build := fs.String("build-dir", "build", "directory holding the built Lambdas, payments/, drctl-evaluate/ and drctl-action/bootstrap (make lambda)")
	nag := fs.Bool("nag", true, "apply the cdk-nag AwsSolutions and PCI DSS 3.2.1 packs; unsuppressed findings fail the synth")
	desc := fs.Bool("describe", false, "print the deploy plan's names as shell assignments (scripts/deploy.sh) and build nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *desc {
		return describe(stdout, cfg)
	}
	assets := stack.Assets{Payments: filepath.Join(*build, "payments"), Evaluate: filepath.Join(*build, "drctl-evaluate"),
		Action: filepath.Join(*build, "drctl-action")}
	if err := stack.CheckAssets(assets); err != nil {
		return err
	}
	defer jsii.Close()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(*out)})
	stacks := stack.Build(app, cfg, assets)
	if *nag {
		stack.ApplyNag(app)
	}
	app.Synth(nil)
	if *nag {
		findings, err := stack.NagErrors(*out)
		if err != nil {
			return err
		}
		if len(findings) > 0 {
			for _, f := range findings {
				fmt.Fprintln(os.Stderr, f)
			}
			return fmt.Errorf("%d unsuppressed cdk-nag errors", len(findings))
		}
	}
	for _, s := range stacks.All() {
		fmt.Fprintf(stdout, "synthesized %s (%s) -> %s/%s.template.json\n", *s.StackName(), *s.Region(), *out, *s.ArtifactId())
	}
	return checkLimits(*out, stdout)
}

// nearLimit is the share of a limit from which synth prints a figure;
// every figure goes to limits.txt in the assembly.
const nearLimit = 0.5

// checkLimits measures every template of the assembly against the AWS
// limits of docs/aws-limits.md, writes each figure to DIR/limits.txt,
// prints those at half their limit or more and fails when one is crossed:
// CloudFormation would refuse the stack half-way through a deploy.
func checkLimits(dir string, stdout io.Writer) error {
	stacks, err := awslimits.Load(dir)
	if err != nil {
		return err
	}
	figs := awslimits.Check(stacks)
	var all strings.Builder
	shown := 0
	for _, f := range figs {
		fmt.Fprintln(&all, "limit:", f)
		if float64(f.Value) >= nearLimit*float64(f.Limit.Max) || f.Over() {
			fmt.Fprintln(stdout, "limit:", f)
			shown++
		}
	}
	file := filepath.Join(dir, "limits.txt")
	if err := os.WriteFile(file, []byte(all.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "limits: %d figures measured, %d at half their AWS limit or more (above); all in %s\n", len(figs), shown, file)
	if over := awslimits.Over(figs); len(over) > 0 {
		for _, f := range over {
			fmt.Fprintln(os.Stderr, f)
		}
		return fmt.Errorf("%d AWS limits crossed (docs/aws-limits.md)", len(over))
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
