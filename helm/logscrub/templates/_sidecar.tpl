{{/*
The logscrub container for an application pod. Include it in your own
chart's pod spec (with this chart as a dependency) as
  {{- include "logscrub.sidecarContainer" . | nindent 8 }}
and add the app-logs and logscrub-state emptyDir volumes.
*/}}
{{- define "logscrub.sidecarContainer" -}}
- name: logscrub
  image: {{ include "logscrub.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - tail
    {{- range .Values.sidecar.files }}
    - {{ printf "%s/%s" $.Values.sidecar.logDir . | quote }}
    {{- end }}
    - --checkpoint=/var/lib/logscrub/checkpoint.json
    - --tag=app
    {{- include "logscrub.serveArgs" . | nindent 4 }}
    {{- include "logscrub.engineArgs" . | nindent 4 }}
  env:
    {{- include "logscrub.env" . | nindent 4 }}
  {{- include "logscrub.probes" . | nindent 2 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  volumeMounts:
    - name: app-logs
      mountPath: {{ .Values.sidecar.logDir }}
      readOnly: true
    - name: logscrub-state
      mountPath: /var/lib/logscrub
    {{- include "logscrub.configVolumeMounts" . | nindent 4 }}
{{- end -}}
