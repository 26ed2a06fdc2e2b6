{{/* The chart's name, or nameOverride. */}}
{{- define "devops-info.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The objects' name: fullnameOverride, else the release's name with the chart's unless it holds it already. */}}
{{- define "devops-info.fullname" -}}
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

{{- define "devops-info.selectorLabels" -}}
app.kubernetes.io/name: {{ include "devops-info.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "devops-info.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "devops-info.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "devops-info.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "devops-info.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "devops-info.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The headless Service a StatefulSet names in serviceName. */}}
{{- define "devops-info.headlessName" -}}
{{- printf "%s-headless" (include "devops-info.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "devops-info.validate" -}}
{{- if and .Values.persistence.enabled (eq .Values.kind "Deployment") (gt (int .Values.replicaCount) 1) (not .Values.autoscaling.enabled) }}
{{- fail "persistence with kind Deployment holds one writer (the data directory is locked): set replicaCount to 1, or use kind StatefulSet for a volume per pod" }}
{{- end }}
{{- if and .Values.persistence.enabled (eq .Values.kind "Deployment") .Values.autoscaling.enabled }}
{{- fail "persistence with kind Deployment holds one writer: the autoscaler cannot add pods to it; use kind StatefulSet" }}
{{- end }}
{{- if and .Values.persistence.enabled (eq .Values.kind "Rollout") }}
{{- fail "persistence holds one writer: a Rollout runs old and new pods side by side; use kind StatefulSet for volumes" }}
{{- end }}
{{- if and .Values.waitFor.enabled (not .Values.waitFor.url) }}
{{- fail "waitFor.enabled needs waitFor.url, the dependency's health URL" }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) (not .Values.tls.certManager.enabled) }}
{{- fail "tls.enabled needs a certificate: tls.secretName (an existing kubernetes.io/tls Secret) or tls.certManager.enabled with tls.certManager.issuerRef.name" }}
{{- end }}
{{- if and .Values.tls.enabled .Values.tls.certManager.enabled (not .Values.tls.certManager.issuerRef.name) }}
{{- fail "tls.certManager.enabled needs tls.certManager.issuerRef.name, the Issuer or ClusterIssuer that signs the certificate" }}
{{- end }}
{{- if and .Values.tls.enabled (eq (int .Values.tls.port) (int .Values.port)) }}
{{- fail "tls.port must differ from port: the plain port serves on beside HTTPS" }}
{{- end }}
{{- end }}

{{/* The Secret the https port serves: tls.secretName, or the one the Certificate fills. */}}
{{- define "devops-info.tlsSecret" -}}
{{- .Values.tls.secretName | default (printf "%s-tls" (include "devops-info.fullname" .) | trunc 63 | trimSuffix "-") }}
{{- end }}

{{/* The pod template, the same for both kinds. */}}
{{- define "devops-info.podTemplate" -}}
metadata:
  labels:
    {{- include "devops-info.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- if .Values.prometheusAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ .Values.port | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- if .Values.configRolloutOnChange }}
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "devops-info.serviceAccountName" . }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- if .Values.topologySpread }}
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "devops-info.selectorLabels" . | nindent 10 }}
  {{- end }}
  {{- if .Values.waitFor.enabled }}
  initContainers:
    - name: wait-for
      image: {{ include "devops-info.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["health", "--url", {{ .Values.waitFor.url | quote }}, "--wait", {{ .Values.waitFor.timeout | quote }}]
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
  {{- end }}
  containers:
    - name: devops-info
      image: {{ include "devops-info.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - serve
        - --shutdown-delay
        - {{ .Values.shutdownDelay | quote }}
        - --shutdown-timeout
        - {{ .Values.shutdownTimeout | quote }}
        {{- if .Values.config }}
        - --config
        - /etc/devops-info/config.json
        {{- end }}
        {{- with .Values.trustedProxies }}
        - --trusted-proxies
        - {{ join "," . | quote }}
        {{- end }}
        {{- range .Values.upstreams }}
        - --upstream
        - {{ . | quote }}
        {{- end }}
        {{- if .Values.upstreams }}
        - --upstream-timeout
        - {{ .Values.upstreamTimeout | quote }}
        {{- if .Values.upstreamCASecret }}
        - --upstream-cacert
        - /var/run/secrets/devops-info/upstream-ca/ca.crt
        {{- end }}
        {{- end }}
        {{- if .Values.tls.enabled }}
        - --tls-cert
        - /var/run/secrets/devops-info/tls/tls.crt
        - --tls-key
        - /var/run/secrets/devops-info/tls/tls.key
        - --tls-port
        - {{ .Values.tls.port | quote }}
        {{- if .Values.tls.clientCASecret }}
        - --tls-client-ca
        - /var/run/secrets/devops-info/client-ca/ca.crt
        {{- end }}
        {{- end }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      env:
        - name: PORT
          value: {{ .Values.port | quote }}
        {{- if .Values.persistence.enabled }}
        - name: DATA_DIR
          value: {{ .Values.persistence.mountPath | quote }}
        {{- end }}
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: NODE_NAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
        {{- if or .Values.upstreams .Values.tracing.endpoint }}
        # The name in traces and in GET /upstreams, and the pod as OpenTelemetry's resource names it.
        - name: OTEL_SERVICE_NAME
          value: {{ .Values.tracing.serviceName | default (include "devops-info.fullname" .) | quote }}
        - name: OTEL_RESOURCE_ATTRIBUTES
          value: "k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE),k8s.node.name=$(NODE_NAME),service.instance.id=$(POD_NAME)"
        {{- end }}
        {{- with .Values.tracing.endpoint }}
        - name: OTEL_EXPORTER_OTLP_ENDPOINT
          value: {{ . | quote }}
        - name: OTEL_TRACES_SAMPLER
          value: {{ $.Values.tracing.sampler | quote }}
        {{- with $.Values.tracing.samplerArg }}
        - name: OTEL_TRACES_SAMPLER_ARG
          value: {{ . | quote }}
        {{- end }}
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if or .Values.secret.create .Values.extraEnvFrom }}
      envFrom:
        {{- if .Values.secret.create }}
        - secretRef:
            name: {{ include "devops-info.fullname" . }}
        {{- end }}
        {{- with .Values.extraEnvFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.port }}
          protocol: TCP
        {{- if .Values.tls.enabled }}
        - name: https
          containerPort: {{ .Values.tls.port }}
          protocol: TCP
        {{- end }}
      startupProbe:
        {{- include "devops-info.probe" (dict "root" . "probe" .Values.startupProbe "service" "liveness") | nindent 8 }}
      livenessProbe:
        {{- include "devops-info.probe" (dict "root" . "probe" .Values.livenessProbe "service" "liveness") | nindent 8 }}
      readinessProbe:
        {{- include "devops-info.probe" (dict "root" . "probe" .Values.readinessProbe "service" "readiness") | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      {{- if or .Values.config .Values.persistence.enabled .Values.tls.enabled .Values.upstreamCASecret }}
      volumeMounts:
        {{- if .Values.config }}
        # The whole directory, not a subPath: the kubelet's updates reach the
        # pod, and serve reloads the file when they do.
        - name: config
          mountPath: /etc/devops-info
          readOnly: true
        {{- end }}
        {{- if .Values.persistence.enabled }}
        - name: data
          mountPath: {{ .Values.persistence.mountPath }}
        {{- end }}
        {{- if .Values.tls.enabled }}
        # Whole Secrets, not subPaths: a renewed certificate reaches the pod
        # (the kubelet swaps ..data) and serve reloads it.
        - name: tls
          mountPath: /var/run/secrets/devops-info/tls
          readOnly: true
        {{- if .Values.tls.clientCASecret }}
        - name: client-ca
          mountPath: /var/run/secrets/devops-info/client-ca
          readOnly: true
        {{- end }}
        {{- end }}
        {{- if .Values.upstreamCASecret }}
        - name: upstream-ca
          mountPath: /var/run/secrets/devops-info/upstream-ca
          readOnly: true
        {{- end }}
      {{- end }}
  {{- if or .Values.config (and .Values.persistence.enabled (eq .Values.kind "Deployment")) .Values.tls.enabled .Values.upstreamCASecret }}
  volumes:
    {{- if .Values.config }}
    - name: config
      configMap:
        name: {{ include "devops-info.fullname" . }}
    {{- end }}
    {{- if and .Values.persistence.enabled (eq .Values.kind "Deployment") }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ include "devops-info.fullname" . }}
    {{- end }}
    {{- if .Values.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ include "devops-info.tlsSecret" . }}
    {{- if .Values.tls.clientCASecret }}
    - name: client-ca
      secret:
        secretName: {{ .Values.tls.clientCASecret }}
    {{- end }}
    {{- end }}
    {{- with .Values.upstreamCASecret }}
    - name: upstream-ca
      secret:
        secretName: {{ . }}
    {{- end }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* The analysis's arguments: the new pods' hash and the namespace, from Argo Rollouts and the pod. */}}
{{- define "devops-info.analysisArgs" -}}
- name: canary-hash
  valueFrom:
    podTemplateHashValue: Latest
- name: namespace
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end }}

{{/*
A probe as the values give it, or with probeProtocol grpc the same timings
around the kubelet's gRPC health probe of `service` on the container port
(a grpc probe takes a port number, not a name).
*/}}
{{- define "devops-info.probe" -}}
{{- if eq .root.Values.probeProtocol "grpc" -}}
{{- $p := omit .probe "httpGet" "tcpSocket" "exec" "grpc" -}}
{{- $_ := set $p "grpc" (dict "port" (int .root.Values.port) "service" .service) -}}
{{- toYaml $p -}}
{{- else -}}
{{- toYaml .probe -}}
{{- end -}}
{{- end }}

{{/*
The port of an http:// or https:// URL: the one it names, else 80 or 443.
*/}}
{{- define "devops-info.urlPort" -}}
{{- $rest := . | trimPrefix "http://" | trimPrefix "https://" -}}
{{- $authority := regexReplaceAll "[/?#].*$" $rest "" -}}
{{- $port := regexFind ":[0-9]+$" (regexReplaceAll "^.*\\]" $authority "") -}}
{{- if $port -}}
{{- trimPrefix ":" $port -}}
{{- else if hasPrefix "https://" . -}}
443
{{- else -}}
80
{{- end -}}
{{- end -}}
