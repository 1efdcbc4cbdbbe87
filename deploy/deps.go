package deploy

import (
	_ "github.com/compose-spec/compose-go/v2/loader"
	_ "k8s.io/api/apps/v1"
	_ "k8s.io/apimachinery/pkg/api/resource"
	_ "sigs.k8s.io/yaml"
)
