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


{{- /* Env of the mounted store Secrets (docs/storage.md): the same paths in every component. */ -}}
{{- define "pcapper.storeEnv" -}}
# Object storage and encryption at rest: the mounted Secrets (never read through the API).
- name: PCAPPER_STORE_CREDENTIALS_DIR
  value: /etc/pcapper/store-credentials
- name: PCAPPER_KEYRING_DIR
  value: /etc/pcapper/keys
{{- end }}

{{- define "pcapper.storeMounts" -}}
- name: store-credentials
  mountPath: /etc/pcapper/store-credentials
  readOnly: true
- name: encryption-keys
  mountPath: /etc/pcapper/keys
  readOnly: true
{{- end }}

{{- /* mode: 256 (0400) for the root agent, 288 (0440, with fsGroup) for the non-root pods */ -}}
{{- define "pcapper.storeVolumes" -}}
- name: store-credentials
  secret:
    secretName: pcapper-store-credentials
    defaultMode: {{ .mode }}
    # Created by the admin (or by the chart with inClusterStore); without it pcapper runs with no store.
    optional: true
- name: encryption-keys
  secret:
    secretName: pcapper-encryption-keys
    defaultMode: {{ .mode }}
{{- end }}
