{{/* The system namespace. Fixed: the controller allows node and cross-namespace captures only here. */}}
{{- define "pcapper.namespace" -}}pcapper{{- end }}

{{/* Labels on every object. */}}
{{- define "pcapper.labels" -}}
app.kubernetes.io/name: pcapper
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: pcapper
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Selector labels of one component (controller | server | agent); never change across upgrades. */}}
{{- define "pcapper.selectorLabels" -}}
app.kubernetes.io/name: pcapper
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "pcapper.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

