{{- define "validibot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "validibot.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "validibot.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "validibot.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "validibot.secretName" -}}{{ include "validibot.fullname" . }}{{- end -}}

{{/* The environment every container gets: database, secret key, data dir, extras. */}}
{{- define "validibot.env" -}}
- name: VALIDIBOT_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret | default (include "validibot.secretName" .) }}
      key: {{ .Values.database.key }}
{{- if or .Values.secretKey.value .Values.secretKey.existingSecret }}
- name: VALIDIBOT_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secretKey.existingSecret | default (include "validibot.secretName" .) }}
      key: {{ .Values.secretKey.key }}
{{- end }}
- name: VALIDIBOT_DATA_DIR
  value: /var/lib/validibot
- name: VALIDIBOT_LOG_FORMAT
  value: json
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "validibot.volumes" -}}
- name: data
{{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ .Values.persistence.existingClaim | default (include "validibot.fullname" .) }}
{{- else }}
  emptyDir: {}
{{- end }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "validibot.mounts" -}}
- name: data
  mountPath: /var/lib/validibot
- name: tmp
  mountPath: /tmp
{{- end -}}
