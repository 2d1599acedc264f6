package awslimits

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Stack is one CloudFormation stack of an assembly.
type Stack struct {
	Name            string
	Account, Region string
	Body            []byte // the template file as deployed
	// UploadedToS3: cdk deploy passes the template by its S3 URL.
	UploadedToS3 bool
	Template     Template
	// peers are the assembly's stacks (Check sets them): a value one
	// stack imports resolves to what its producer exports.
	peers []Stack
}

// Template is the part of a CloudFormation template the checks read.
type Template struct {
	Resources  map[string]Resource        `json:"Resources"`
	Outputs    map[string]json.RawMessage `json:"Outputs"`
	Parameters map[string]Parameter       `json:"Parameters"`
	Mappings   map[string]map[string]map[string]any
}

// Resource is one template resource.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

// Parameter is one template parameter (its default resolves a Ref).
type Parameter struct {
	Default any `json:"Default"`
}

// Load reads every stack of the cloud assembly in dir (its manifest.json).
func Load(dir string) ([]Stack, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("reading the cloud assembly (run make synth): %w", err)
	}
	var m struct {
		Artifacts map[string]struct {
			Type        string `json:"type"`
			Environment string `json:"environment"`
			Properties  struct {
				TemplateFile     string `json:"templateFile"`
				StackName        string `json:"stackName"`
				TemplateAssetURL string `json:"stackTemplateAssetObjectUrl"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s/manifest.json: %w", dir, err)
	}
	var stacks []Stack
	for id, a := range m.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		s := Stack{Name: a.Properties.StackName, UploadedToS3: a.Properties.TemplateAssetURL != ""}
		if s.Name == "" {
			s.Name = id
		}
		// environment is aws://<account>/<region>
		env := strings.Split(strings.TrimPrefix(a.Environment, "aws://"), "/")
		if len(env) == 2 {
			s.Account, s.Region = env[0], env[1]
		}
		if s.Body, err = os.ReadFile(filepath.Join(dir, a.Properties.TemplateFile)); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(s.Body, &s.Template); err != nil {
			return nil, fmt.Errorf("%s: %w", a.Properties.TemplateFile, err)
		}
		stacks = append(stacks, s)
	}
	if len(stacks) == 0 {
		return nil, fmt.Errorf("%s/manifest.json lists no stack", dir)
	}
	sort.Slice(stacks, func(i, j int) bool { return stacks[i].Name < stacks[j].Name })
	return stacks, nil
}
