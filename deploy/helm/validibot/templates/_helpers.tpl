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
{{- if eq .Values.containers.launcher "kubernetes" }}
{{- if not .Values.storage.s3.url }}
{{- fail "containers.launcher=kubernetes needs storage.s3.url: Jobs read their inputs and write their output through the bucket" }}
{{- end }}
- name: VALIDIBOT_CONTAINER_LAUNCH
  value: async
- name: VALIDIBOT_CONTAINER_LAUNCHER
  value: kubernetes
- name: VALIDIBOT_KUBERNETES_NAMESPACE
  value: {{ include "validibot.jobsNamespace" . | quote }}
- name: VALIDIBOT_KUBERNETES_AGENT_IMAGE
  value: {{ include "validibot.image" . | quote }}
- name: VALIDIBOT_CALLBACK_URL
  value: {{ .Values.containers.kubernetes.callbackUrl | default (printf "http://%s.%s.svc:%v" (include "validibot.fullname" .) .Release.Namespace .Values.service.port) | quote }}
{{- with .Values.containers.kubernetes.imagePullSecrets }}
- name: VALIDIBOT_KUBERNETES_IMAGE_PULL_SECRETS
  value: {{ join "," . | quote }}
{{- end }}
{{- else if ne .Values.containers.launcher "docker" }}
{{- fail "containers.launcher is docker or kubernetes" }}
{{- end }}
- name: VALIDIBOT_LOG_FORMAT
  value: json
{{- with .Values.plugins.trustedKeys }}
- name: VALIDIBOT_PLUGIN_TRUSTED_KEYS
  value: {{ . | quote }}
{{- end }}
{{- if .Values.plugins.allowUnsigned }}
- name: VALIDIBOT_ALLOW_UNSIGNED_PLUGINS
  value: "true"
{{- end }}
{{- if .Values.pro.enabled }}
- name: VALIDIBOT_EXTENSIONS_DIR
  value: /etc/validibot/extensions
- name: VALIDIBOT_EXTENSION_TRUSTED_KEYS
  value: {{ required "pro.enabled: set pro.extensions.trustedKeys (the key that signed the extension)" .Values.pro.extensions.trustedKeys | quote }}
{{- if include "validibot.hasLicense" . }}
- name: VALIDIBOT_LICENSE_FILE
  value: /etc/validibot/license/{{ .Values.pro.license.key }}
{{- end }}
{{- end }}
{{- with .Values.storage.s3 }}
{{- if .url }}
- name: VALIDIBOT_STORAGE_URL
  value: {{ .url | quote }}
{{- with .endpoint }}
- name: VALIDIBOT_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .region }}
- name: VALIDIBOT_S3_REGION
  value: {{ . | quote }}
{{- end }}
{{- if or .existingSecret .accessKeyId }}
- name: VALIDIBOT_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret | default (include "validibot.secretName" $) }}
      key: {{ .accessKeyIdKey }}
- name: VALIDIBOT_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret | default (include "validibot.secretName" $) }}
      key: {{ .secretAccessKeyKey }}
{{- end }}
{{- end }}
{{- end }}
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
{{- if .Values.pro.enabled }}
- name: extensions
  emptyDir: {}
{{- if include "validibot.hasLicense" . }}
- name: license
  secret:
    secretName: {{ .Values.pro.license.existingSecret | default (include "validibot.secretName" .) }}
    items:
      - key: {{ .Values.pro.license.key }}
        path: {{ .Values.pro.license.key }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "validibot.mounts" -}}
- name: data
  mountPath: /var/lib/validibot
- name: tmp
  mountPath: /tmp
{{- if .Values.pro.enabled }}
- name: extensions
  mountPath: /etc/validibot/extensions
  readOnly: true
{{- if include "validibot.hasLicense" . }}
- name: license
  mountPath: /etc/validibot/license
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{/* "true" when a license file is configured. */}}
{{- define "validibot.hasLicense" -}}
{{- if or .Values.pro.license.existingSecret .Values.pro.license.value }}true{{ end -}}
{{- end -}}

{{/* Pro: copies the extension files from their image into the pod. */}}
{{- define "validibot.initContainers" -}}
{{- if .Values.pro.enabled }}
initContainers:
  - name: pro-extension
    image: {{ required "pro.enabled: set pro.extensions.image (an image holding the extension files)" .Values.pro.extensions.image }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    command: ["cp", "-R", "{{ .Values.pro.extensions.path }}/.", "/etc/validibot/extensions/"]
    securityContext: {{- toYaml .Values.securityContext | nindent 6 }}
    volumeMounts:
      - name: extensions
        mountPath: /etc/validibot/extensions
{{- end }}
{{- end -}}

{{- define "validibot.jobsNamespace" -}}{{ .Values.containers.kubernetes.namespace | default .Release.Namespace }}{{- end -}}
