{{/* Names */}}
{{- define "logscrub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "logscrub.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "logscrub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "logscrub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .Values.mode }}
{{- end -}}

{{- define "logscrub.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "logscrub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "logscrub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "logscrub.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "logscrub.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "logscrub.rulesConfigMap" -}}
{{- if .Values.rules.existingConfigMap -}}
{{- .Values.rules.existingConfigMap -}}
{{- else if .Values.rules.custom -}}
{{- printf "%s-rules" (include "logscrub.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Rule flags, shared by every mode. */}}
{{- define "logscrub.engineArgs" -}}
{{- with .Values.rules.packs }}
- --packs={{ join "," . }}
{{- end }}
{{- with .Values.rules.disable }}
- --disable={{ join "," . }}
{{- end }}
{{- range $id, $mask := .Values.rules.masks }}
- --mask={{ $id }}={{ $mask }}
{{- end }}
{{- range $file, $_ := .Values.rules.custom }}
- --rules=/etc/logscrub/rules/{{ $file }}
{{- end }}
{{- end -}}

{{/* Output and limit flags of serve/tail. */}}
{{- define "logscrub.serveArgs" -}}
- --format={{ .Values.format }}
- --admin=0.0.0.0:{{ .Values.admin.port }}
{{- if eq .Values.output.kind "forward" }}
- --output=forward
- --downstream={{ required "output.downstream is required when output.kind is forward" .Values.output.downstream }}
- --ack-timeout={{ .Values.output.ackTimeout }}
{{- if .Values.output.tls.caSecret }}
- --downstream-ca=/etc/logscrub/downstream-ca/ca.crt
{{- with .Values.output.tls.serverName }}
- --downstream-tls-name={{ . }}
{{- end }}
{{- end }}
{{- else }}
- --output=stdout
- --output-format={{ .Values.output.format }}
{{- end }}
- --buffer-bytes={{ int64 .Values.limits.bufferBytes }}
- --on-full={{ .Values.limits.onFull }}
- --max-record={{ int64 .Values.limits.maxRecord }}
- --max-connections={{ .Values.limits.maxConnections }}
- --idle-timeout={{ .Values.limits.idleTimeout }}
- --drain-timeout={{ .Values.limits.drainTimeout }}
{{- end -}}

{{/* Environment: the hash key from a Secret, never from values. */}}
{{- define "logscrub.env" -}}
- name: LOGSCRUB_LOG
  value: info
{{- if .Values.hashKey.existingSecret }}
- name: LOGSCRUB_HASH_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.hashKey.existingSecret }}
      key: {{ .Values.hashKey.key }}
{{- end }}
{{- if and (eq .Values.mode "aggregator") .Values.aggregator.sharedKey.existingSecret }}
- name: LOGSCRUB_FORWARD_SHARED_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.aggregator.sharedKey.existingSecret }}
      key: {{ .Values.aggregator.sharedKey.key }}
{{- end }}
{{- if and (eq .Values.output.kind "forward") .Values.output.sharedKey.existingSecret }}
- name: LOGSCRUB_DOWNSTREAM_SHARED_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.output.sharedKey.existingSecret }}
      key: {{ .Values.output.sharedKey.key }}
{{- end }}
{{- end -}}

{{- define "logscrub.probes" -}}
ports:
  - name: admin
    containerPort: {{ .Values.admin.port }}
    protocol: TCP
livenessProbe:
  httpGet:
    path: /healthz
    port: admin
  periodSeconds: 10
readinessProbe:
  httpGet:
    path: /readyz
    port: admin
  periodSeconds: 5
{{- end -}}

{{/* Mounts of the files logscrub reads: custom rules, the downstream's CA,
and (aggregator) the listeners' certificate. Empty when there are none. */}}
{{- define "logscrub.configVolumeMounts" -}}
{{- if include "logscrub.rulesConfigMap" . }}
- name: rules
  mountPath: /etc/logscrub/rules
  readOnly: true
{{- end }}
{{- if and (eq .Values.output.kind "forward") .Values.output.tls.caSecret }}
- name: downstream-ca
  mountPath: /etc/logscrub/downstream-ca
  readOnly: true
{{- end }}
{{- if and (eq .Values.mode "aggregator") .Values.aggregator.tls.existingSecret }}
- name: tls
  mountPath: /etc/logscrub/tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "logscrub.configVolumes" -}}
{{- if include "logscrub.rulesConfigMap" . }}
- name: rules
  configMap:
    name: {{ include "logscrub.rulesConfigMap" . }}
{{- end }}
{{- if and (eq .Values.output.kind "forward") .Values.output.tls.caSecret }}
- name: downstream-ca
  secret:
    secretName: {{ .Values.output.tls.caSecret }}
    items:
      - key: {{ .Values.output.tls.caKey }}
        path: ca.crt
{{- end }}
{{- if and (eq .Values.mode "aggregator") .Values.aggregator.tls.existingSecret }}
- name: tls
  secret:
    secretName: {{ .Values.aggregator.tls.existingSecret }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every mode. */}}
{{- define "logscrub.podSpecCommon" -}}
serviceAccountName: {{ include "logscrub.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "logscrub.podAnnotations" -}}
{{- if .Values.metrics.annotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.admin.port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
