{{/* The chart's name, or nameOverride. */}}
{{- define "incident-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name. A release named incident-operator gives
the names config/default gives, such as incident-operator-manager-role.
*/}}
{{- define "incident-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "incident-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "incident-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "incident-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "incident-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "incident-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller-manager" (include "incident-operator.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "incident-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The objects of one YAML file of files/ (copied from config/ by `make
chart`), each decoded; comments and empty documents are dropped. Returns
{"objects": [...]} as YAML, for fromYaml.
*/}}
{{- define "incident-operator.configObjects" -}}
{{- $objects := list }}
{{- range $doc := regexSplit "(?m)^---[ \t]*$" (.root.Files.Get .path) -1 }}
{{- $object := fromYaml $doc }}
{{- if hasKey $object "Error" }}
{{- fail (printf "%s: %s" $.path $object.Error) }}
{{- end }}
{{- if $object.kind }}
{{- $objects = append $objects $object }}
{{- end }}
{{- end }}
{{- if not $objects }}
{{- fail (printf "%s holds no object: run make chart" .path) }}
{{- end }}
{{- dict "objects" $objects | toYaml }}
{{- end }}

{{/*
A config/ object as the release installs it: its labels and annotations
keep theirs (such as aggregation labels) and gain the chart's.
Arguments: root, object, and optionally name and namespace to set.
*/}}
{{- define "incident-operator.configObject" -}}
{{- $object := deepCopy .object }}
{{- $meta := $object.metadata }}
{{- $_ := set $meta "labels" (merge (include "incident-operator.labels" .root | fromYaml) (default (dict) $meta.labels)) }}
{{- with .annotations }}
{{- $_ := set $meta "annotations" (merge (deepCopy .) (default (dict) $meta.annotations)) }}
{{- end }}
{{- with .name }}
{{- $_ := set $meta "name" . }}
{{- end }}
{{- if .namespace }}
{{- $_ := set $meta "namespace" .namespace }}
{{- else }}
{{- $_ := unset $meta "namespace" }}
{{- end }}
{{- toYaml $object }}
{{- end }}
