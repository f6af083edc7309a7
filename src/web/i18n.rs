//! The string catalog: every user-facing string of the web UI, in Spanish and
//! English. Keys are an enum, so a missing translation does not compile.

use axum::http::HeaderMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Es,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// From `Accept-Language` (first supported language by weight order of
    /// appearance); Spanish when nothing matches.
    pub fn from_headers(h: &HeaderMap) -> Lang {
        let Some(v) = h
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::Es;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in v.split(',') {
            let mut it = part.trim().split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("es") => Lang::Es,
                Some("en") => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Es)
    }
}

macro_rules! catalog {
    ($($key:ident => $es:literal, $en:literal;)*) => {
        /// A user-facing string.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum T { $($key,)* }

        impl T {
            pub const ALL: &'static [T] = &[$(T::$key,)*];
        }

        pub fn t(lang: Lang, key: T) -> &'static str {
            match (lang, key) {
                $((Lang::Es, T::$key) => $es, (Lang::En, T::$key) => $en,)*
            }
        }
    };
}

catalog! {
    SignIn => "Entrar", "Sign in";
    Email => "Correo", "Email";
    Password => "Contraseña", "Password";
    WrongCredentials => "Correo o contraseña incorrectos.", "Wrong email or password.";
    TooManyAttempts => "Demasiados intentos. Espera un minuto.", "Too many attempts. Wait a minute.";
    SignOut => "Salir", "Sign out";
    ChangePassword => "Cambiar contraseña", "Change password";
    CurrentPassword => "Contraseña actual", "Current password";
    NewPassword => "Contraseña nueva", "New password";
    PasswordChanged => "Contraseña cambiada. Las demás sesiones se han cerrado.", "Password changed. Every other session was signed out.";
    Save => "Guardar", "Save";
    Inbox => "Bandeja", "Inbox";
    Search => "Buscar", "Search";
    SearchPlaceholder => "Buscar en todas las conversaciones…", "Search every conversation…";
    SearchEmptyQuery => "Escribe palabras, \"frases\" o filtros como from: o tag:.", "Type words, \"phrases\" or filters such as from: or tag:.";
    SearchConversations => "conversaciones", "conversations";
    SearchRelevance => "Más relevantes", "Most relevant";
    SearchNewest => "Más recientes", "Newest";
    SearchChannel => "Canal", "Channel";
    SearchStatus => "Estado", "Status";
    SearchTag => "Etiqueta", "Tag";
    SearchNoResults => "Ninguna conversación coincide.", "No conversation matches.";
    SearchPrevious => "Anterior", "Previous";
    SearchNext => "Siguiente", "Next";
    SearchAll => "Ver todos los resultados", "See all results";
    SearchHelp => "Cómo buscar", "How to search";
    SearchHelpWords => "todas las palabras (sin acentos ni mayúsculas; cobro encuentra cobraron)", "all the words (accents and case ignored; refunds finds refund)";
    SearchHelpPhrase => "la frase exacta", "the exact phrase";
    SearchHelpOr => "una u otra", "either one";
    SearchHelpExclude => "sin esta palabra", "without this word";
    SearchHelpPrefix => "palabras que empiezan así", "words starting like this";
    SearchHelpPeople => "de o para una persona (usuario, email, nombre)", "from or to a person (handle, email, name)";
    SearchHelpFilters => "canal, etiqueta, estado, sin asignar", "channel, tag, status, unassigned";
    SearchHelpRouting => "asignada a mí, equipo, prioridad, categoría", "assigned to me, team, priority, category";
    SearchHelpDates => "fechas (AAAA-MM-DD) y adjuntos", "dates (YYYY-MM-DD) and attachments";
    ViewMine => "Mías", "Mine";
    ViewUnassigned => "Sin asignar", "Unassigned";
    ViewTeams => "Mis equipos", "My teams";
    ViewAll => "Todas", "All";
    ViewMentions => "Menciones", "Mentions";
    ViewSnoozed => "Pospuestas", "Snoozed";
    ViewResolved => "Resueltas", "Resolved";
    EmptyTitle => "Nada pendiente aquí", "Nothing waiting here";
    EmptyHint => "Los mensajes nuevos de cualquier canal aparecen aquí al momento.", "New messages from every channel appear here as they arrive.";
    EmptyMineHint => "No tienes conversaciones asignadas. Mira «Sin asignar».", "Nothing is assigned to you. Look in “Unassigned”.";
    NoConversationTitle => "Elige una conversación", "Pick a conversation";
    NoConversationHint => "Usa j/k para moverte y Enter para abrir; ? muestra los atajos.", "Use j/k to move and Enter to open; ? shows the shortcuts.";
    Older => "Más antiguas", "Older";
    Reply => "Responder", "Reply";
    PrivateReply => "Mensaje privado", "Private message";
    Note => "Nota interna", "Internal note";
    Send => "Enviar", "Send";
    ReplyAttachFiles => "Adjuntar archivos", "Attach files";
    ReplyAttachHint => "Solo las respuestas por correo y las notas llevan adjuntos: hasta 10 MB por archivo y 25 MB en total.", "Only email replies and notes carry files: up to 10 MB per file and 25 MB in all.";
    ReplyAttachBadUpload => "No se pudo leer el envío con adjuntos; inténtalo de nuevo.", "The upload with attachments could not be read; try again.";
    ReplyAttachAgain => "Vuelve a adjuntar los archivos antes de enviar.", "Attach the files again before sending.";
    ReplyAttachTooLarge => "Los adjuntos superan el tamaño permitido: hasta 10 MB por archivo y 25 MB por respuesta.", "The attachments are too large: up to 10 MB per file and 25 MB per reply.";
    ReplyPlaceholder => "Escribe tu respuesta…", "Write your reply…";
    NotePlaceholder => "Nota para el equipo; @nombre avisa a un agente…", "A note for the team; @name notifies an agent…";
    Resolve => "Resolver", "Resolve";
    Reopen => "Reabrir", "Reopen";
    MarkPending => "Pendiente del cliente", "Pending on customer";
    Contact => "Cliente", "Customer";
    Identities => "Identidades", "Identities";
    Followers => "Seguidores", "Followers";
    Verified => "Verificada", "Verified";
    Value => "Valor", "Value";
    History => "Otras conversaciones", "Other conversations";
    NoHistory => "Primera conversación con este cliente.", "First conversation with this customer.";
    Triage => "Prioridad", "Priority";
    Status => "Estado", "Status";
    Channel => "Canal", "Channel";
    Assignee => "Asignada a", "Assigned to";
    Nobody => "Nadie", "Nobody";
    Delivery => "Entrega", "Delivery";
    DeliveryQueued => "en cola", "queued";
    DeliverySent => "enviado", "sent";
    DeliveryFailed => "falló", "failed";
    DeliveryUnknown => "desconocido", "unknown";
    DeliveryDelivered => "entregado", "delivered";
    DeliveryRead => "leído", "read";
    DeliveryAwaitingApproval => "pendiente de aprobación", "awaiting approval";
    StatusOpen => "Abierta", "Open";
    StatusPending => "Pendiente", "Pending";
    StatusSnoozed => "Pospuesta", "Snoozed";
    StatusResolved => "Resuelta", "Resolved";
    Shortcuts => "Atajos de teclado", "Keyboard shortcuts";
    ShortcutMove => "siguiente / anterior", "next / previous";
    ShortcutOpen => "abrir", "open";
    ShortcutReply => "responder", "reply";
    ShortcutNote => "nota", "note";
    ShortcutResolve => "resolver", "resolve";
    ShortcutAssign => "asignar / quedármela", "assign / take it";
    ShortcutHelp => "esta ayuda", "this help";
    ShortcutSearch => "buscar", "search";
    Close => "Cerrar", "Close";
    Forbidden => "No tienes permiso para ver esto.", "You may not see this.";
    NotFound => "No existe.", "Not found.";
    FormExpired => "El formulario caducó; vuelve a intentarlo.", "The form expired; try again.";
    ReadOnly => "Cuenta de solo lectura", "Read-only account";
    NewMessages => "Hay mensajes nuevos", "There are new messages";
    Private => "privado", "private";
    CannedResponses => "Respuestas guardadas", "Canned responses";
    Shortcut => "Atajo", "Shortcut";
    Title => "Título", "Title";
    Text => "Texto", "Text";
    Tags => "Etiquetas", "Tags";
    SharedWithTeam => "Compartida con el equipo", "Shared with the team";
    Personal => "Personal", "Personal";
    Edit => "Editar", "Edit";
    Delete => "Borrar", "Delete";
    Insert => "Insertar", "Insert";
    Suggested => "Sugeridas", "Suggested";
    NoCanned => "Aún no hay respuestas guardadas. Crea la primera abajo.", "No canned responses yet. Create the first one below.";
    CannedHelp => "Variables: {{contact.first_name}}, {{contact.name}}, {{agent.name}}, {{agent.initials}}, {{business.name}}, {{conversation.id}}. En la respuesta, escribe / y el atajo.", "Variables: {{contact.first_name}}, {{contact.name}}, {{agent.name}}, {{agent.initials}}, {{business.name}}, {{conversation.id}}. In a reply, type / and the shortcut.";
    New => "Nueva", "New";
    Actions => "Acciones", "Actions";
    Assign => "Asignar", "Assign";
    TakeIt => "Me la quedo", "Take it";
    AddTag => "Añadir etiqueta", "Add tag";
    Remove => "Quitar", "Remove";
    Snooze => "Posponer", "Snooze";
    SnoozeUntil => "Posponer hasta", "Snooze until";
    SetPriority => "Cambiar prioridad", "Change priority";
    Reason => "Motivo", "Reason";
    AssignedTo => "asignó a", "assigned to";
    Unassigned => "quitó la asignación", "unassigned";
    TaggedWith => "etiquetas", "tags";
    IsViewing => "está viendo", "is viewing";
    Preferences => "Preferencias", "Preferences";
    SystemStatus => "Estado del sistema", "System status";
    Teams => "Equipos", "Teams";
    Team => "Equipo", "Team";
    NewTeam => "Nuevo equipo", "New team";
    Members => "Miembros", "Members";
    AddMember => "Añadir", "Add";
    NoTeams => "Aún no hay equipos. Crea uno para repartir el trabajo.", "No teams yet. Create one to share out the work.";
    Quarantine => "Cuarentena", "Quarantine";
    QuarantineEmpty => "Nada en cuarentena: todo el correo recibido se ha podido guardar.", "Nothing in quarantine: every mail received could be stored.";
    QuarantineHelp => "Correo que no se pudo guardar como mensaje. Se conserva tal cual; puede volver a procesarse o descartarse.", "Mail that could not be stored as a message. It is kept as received; process it again or dismiss it.";
    Source => "Origen", "Source";
    Size => "Tamaño", "Size";
    Reprocess => "Procesar de nuevo", "Process again";
    Dismiss => "Descartar", "Dismiss";
    DownloadRaw => "Descargar .eml", "Download .eml";
    Resolved => "Resuelto", "Resolved";
    Channels => "Canales", "Channels";
    ChannelsHelp => "Cada canal por el que escriben tus clientes. Los buzones añadidos aquí se comprueban al guardarlos y empiezan a leerse al momento.", "Every channel your customers write on. Mailboxes added here are checked when saved and start being read at once.";
    Kind => "Tipo", "Kind";
    FromConfigFile => "archivo de configuración", "configuration file";
    FromAdmin => "añadido aquí", "added here";
    AddMailbox => "Añadir buzón", "Add a mailbox";
    MailboxName => "Nombre (sin espacios)", "Name (no spaces)";
    MailboxAddress => "Dirección a la que escriben los clientes", "Address customers write to";
    ImapServer => "Servidor IMAP (recibir)", "IMAP server (receive)";
    SmtpServer => "Servidor SMTP (enviar)", "SMTP server (send)";
    Host => "Servidor", "Host";
    Port => "Puerto", "Port";
    Security => "Seguridad", "Security";
    UserName => "Usuario", "User name";
    Folder => "Carpeta", "Folder";
    PollEvery => "Comprobar cada (segundos, si no hay IDLE)", "Check every (seconds, without IDLE)";
    AcknowledgeNew => "Enviar acuse de recibo a cada conversación nueva", "Send an acknowledgement to every new conversation";
    Listening => "Escucha social", "Social listening";
    ListeningHelp => "Menciones públicas de tu marca que no piden ayuda. Conviértelas en conversación si merecen respuesta; descartarlas no borra nada en la red.", "Public mentions of your brand that do not ask for help. Turn one into a conversation if it deserves an answer; dismissing deletes nothing on the network.";
    ListeningEmpty => "No hay menciones pendientes.", "No mentions waiting.";
    Promote => "Abrir conversación", "Open a conversation";
    WhatsappWindow => "Han pasado más de 24 horas desde el último mensaje del cliente: WhatsApp solo permite enviar plantillas aprobadas hasta que vuelva a escribir.", "More than 24 hours have passed since the customer's last message: WhatsApp only allows approved templates until they write again.";
    WaTemplateLabel => "Plantilla aprobada", "Approved template";
    WaTemplateSend => "Enviar plantilla", "Send template";
    WaTemplateHelp => "Se envía tal como WhatsApp la aprobó. Cuando el cliente conteste, podrás volver a escribirle libremente.", "It is sent exactly as WhatsApp approved it. Once the customer answers, you can write freely again.";
    WaTemplateNone => "Este canal no tiene plantillas aprobadas: un administrador debe añadirlas al canal (templates en [[channel.whatsapp]], con el nombre y el idioma aprobados en WhatsApp Manager).", "This channel has no approved templates: an admin must add them to the channel (templates under [[channel.whatsapp]], with the name and language approved in WhatsApp Manager).";
    SendPrivately => "Enviar en privado", "Send privately";
    PublishAnyway => "Publicar igualmente", "Publish anyway";
    ContinuePrivately => "Seguir en privado", "Continue privately";
    WillBePublic => "Esta respuesta será pública", "This reply will be public";
    CheckConnection => "Comprobar conexión", "Check connection";
    ChannelsSocialAdd => "Añadir canal social", "Add social channel";
    ChannelsSocialHelp => "Telegram, Mastodon, X, Facebook o WhatsApp. La conexión con la red se comprueba antes de guardarlo y el canal empieza a leerse al momento. Los secretos guardados nunca se muestran.", "Telegram, Mastodon, X, Facebook or WhatsApp. The connection to the network is checked before it is saved, and the channel starts being read at once. Stored secrets are never shown.";
    ChannelsSocialBaseUrl => "Dirección de la API (vacía: la real)", "API address (empty: the real one)";
    ChannelsSocialInstance => "Instancia", "Instance";
    ChannelsSocialUserId => "Id numérico de la cuenta", "The account's numeric id";
    ChannelsSocialPageId => "Id de la página", "Page id";
    ChannelsSocialPhoneId => "Id del número de teléfono", "Phone number id";
    ChannelsSocialToken => "Token de acceso", "Access token";
    ChannelsSocialAppSecret => "Secreto de la app (firma de los webhooks)", "App secret (signs the webhooks)";
    ChannelsSocialVerifyToken => "Token de verificación del webhook", "Webhook verify token";
    ChannelsSocialWebhookHint => "Dirección del webhook para la red:", "Webhook address to give the network:";
    ChannelsSocialPoll => "Consultar cada (segundos; Telegram: espera de la consulta larga)", "Poll every (seconds; Telegram: long-poll wait)";
    ChannelsSocialListening => "Escucha", "Listening";
    ChannelsSocialHandles => "Tus cuentas (@tienda), separadas por comas", "Your handles (@shop), comma-separated";
    ChannelsSocialHashtags => "Hashtags, separados por comas", "Hashtags, comma-separated";
    ChannelsSocialKeywords => "Palabras clave (marca, productos)", "Keywords (brand, products)";
    ChannelsSocialTriggers => "Palabras que abren una conversación (vacío: la lista incorporada)", "Words that open a conversation (empty: the built-in list)";
    ChannelsSocialSecretSet => "•••• guardado", "•••• set";
    ChannelsSocialKeepSecret => "vacío: se mantiene el guardado", "empty: keep the stored one";
    ChannelsSocialEdit => "Cambiar", "Edit";
    Disable => "Desactivar", "Disable";
    Enable => "Activar", "Enable";
    Disabled => "desactivado", "disabled";
    NoChannels => "Aún no hay canales. Añade un buzón para empezar a recibir correo.", "No channels yet. Add a mailbox to start receiving mail.";
    SentToTeam => "pasó al equipo", "handed to team";
    Workers => "Procesos", "Workers";
    State => "Estado", "State";
    LastSuccess => "Último éxito", "Last success";
    LastError => "Último error", "Last error";
    Restarts => "Reinicios", "Restarts";
    PendingDeliveries => "Entregas pendientes", "Pending deliveries";
    Attempts => "Intentos", "Attempts";
    NotConnected => "Canales configurados sin conector en esta versión", "Channels configured without a connector in this version";
    AllClear => "Nada pendiente.", "Nothing pending.";
    Language => "Idioma", "Language";
    TimeZone => "Zona horaria", "Time zone";
    Automatic => "Automático (del navegador)", "Automatic (from the browser)";
    Saved => "Guardado.", "Saved.";
    IsReplying => "está respondiendo", "is replying";
    Public => "público", "public";
    TriageName => "Triaje", "Triage";
    RoutingName => "Reparto", "Routing";
    Score => "Puntuación", "Score";
    Category => "Categoría", "Category";
    Tier => "Nivel", "Tier";
    Why => "Por qué", "Why";
    RoutedTo => "Repartida a", "Routed to";
    RoutingHow => "Cómo se repartió", "How it was routed";
    SlaLabel => "Plazos (SLA)", "Service targets (SLA)";
    FirstResponse => "Primera respuesta", "First response";
    Resolution => "Resolución", "Resolution";
    DueIn => "en", "in";
    OverdueBy => "vencida hace", "overdue by";
    Answered => "respondida", "answered";
    TrollSuspected => "Posible troll", "Suspected troll";
    NeedsApproval => "Las respuestas necesitan aprobación", "Replies need approval";
    RulesLabel => "Reglas", "Rules";
    SentimentLabel => "Sentimiento", "Sentiment";
    NotTriaged => "Sin triaje todavía: el triaje se hace cuando escribe el cliente.", "Not triaged yet: triage runs when the customer writes.";
    LetTriageDecide => "Que decida el triaje", "Let triage decide";
    SetCategory => "Cambiar categoría", "Change category";
    SetTier => "Cambiar nivel", "Change tier";
    TierReason => "Motivo (obligatorio)", "Reason (required)";
    SetByHand => "fijada a mano", "set by hand";
    PrioritySetByHand => "prioridad fijada a mano", "priority set by hand";
    ChangedTier => "cambió el nivel", "changed the tier";
    SetCategoryTo => "puso la categoría", "set the category to";
    ClearedCategory => "dejó la categoría al triaje", "left the category to triage";
    ApprovedReply => "aprobó una respuesta", "approved a reply";
    RejectedReply => "rechazó una respuesta", "rejected a reply";
    Approve => "Aprobar", "Approve";
    Reject => "Rechazar", "Reject";
    RejectReason => "Motivo del rechazo", "Why it is rejected";
    AvailabilityLabel => "Disponibilidad", "Availability";
    AvailOnline => "En línea", "Online";
    AvailAway => "Ausente", "Away";
    AvailOffline => "Desconectado", "Offline";
    Apply => "Aplicar", "Apply";
    TriageRules => "Reglas de triaje", "Triage rules";
    VersionInForce => "Versión en vigor", "Version in force";
    Version => "Versión", "Version";
    By => "Por", "By";
    When => "Cuándo", "When";
    ChangeNote => "Nota del cambio", "Change note";
    SourcePresets => "predefinidas", "presets";
    SourceEditor => "editor", "editor";
    SourceRestore => "restauración de la versión", "restore of version";
    NoRulesSaved => "Aún no hay reglas guardadas: están en vigor las predefinidas.", "No rules saved yet: the presets are in force.";
    RulesInForce => "Reglas en vigor", "Rules in force";
    RuleId => "Id", "Id";
    RuleName => "Nombre", "Name";
    RuleEnabled => "Activa", "Enabled";
    RuleWhenThen => "Condiciones → efectos", "Conditions → effects";
    Yes => "sí", "yes";
    No => "no", "no";
    AlwaysMatches => "siempre", "always";
    NoRules => "El conjunto no tiene reglas.", "The set has no rules.";
    Categories => "Categorías", "Categories";
    NoCategories => "El conjunto no define categorías.", "The set defines no categories.";
    RulesEditor => "Editor (TOML)", "Editor (TOML)";
    RulesEditorHelp => "Simula primero para ver qué cambiaría sobre el tráfico reciente; guardar crea una versión nueva que entra en vigor al momento.", "Simulate first to see what would change over recent traffic; saving creates a new version that takes effect at once.";
    SimDays => "Días a simular", "Days to simulate";
    Simulate => "Simular", "Simulate";
    SaveRules => "Guardar como versión nueva", "Save as a new version";
    RulesSaved => "Reglas guardadas: versión", "Rules saved: version";
    RulesRestored => "Versión restaurada; ahora en vigor la versión", "Version restored; now in force: version";
    RulesNotSaved => "Las reglas no se guardaron:", "The rules were not saved:";
    RulesNotSimulated => "No se pudo simular:", "Could not simulate:";
    SimResults => "Resultado de la simulación", "Simulation results";
    SimMessages => "Mensajes de clientes", "Customer messages";
    SimConversations => "Conversaciones", "Conversations";
    SimChanged => "Mensajes que cambiarían", "Messages that would change";
    SimPriorityChanges => "Cambios de prioridad", "Priority changes";
    SimCategoryChanges => "Cambios de categoría", "Category changes";
    SimTierChanges => "Cambios de nivel", "Tier changes";
    SimAssignmentChanges => "Cambios de asignación", "Assignment changes";
    SimElapsed => "Tiempo de cálculo", "Computed in";
    SimNow => "Ahora", "Now";
    SimWithEdits => "Con los cambios", "With the edits";
    SimNoChanges => "Ninguna conversación cambiaría con estas reglas.", "No conversation would change with these rules.";
    SimShowing => "Conversaciones que cambiarían (mostradas / total)", "Conversations that would change (shown / total)";
    SimPerPriority => "Conversaciones por prioridad", "Conversations per priority";
    VersionHistory => "Historial de versiones", "Version history";
    Restore => "Restaurar", "Restore";
    InForce => "en vigor", "in force";
    Agents => "Agentes", "Agents";
    Role => "Rol", "Role";
    RoleAdmin => "Administración", "Admin";
    RoleSupervisor => "Supervisión", "Supervisor";
    RoleAgent => "Agente", "Agent";
    RoleAuditor => "Auditoría", "Auditor";
    OpenOfCapacity => "Abiertas / capacidad", "Open / capacity";
    AvgFirstResponse => "1.ª respuesta media", "Avg first response";
    Csat => "Satisfacción", "CSAT";
    Skills => "Habilidades", "Skills";
    Languages => "Idiomas", "Languages";
    Capacity => "Capacidad", "Capacity";
    CommaSeparated => "separar con comas", "comma-separated";
    NoAgents => "Aún no hay cuentas de personal que atiendan conversaciones.", "No staff accounts take conversations yet.";
    AgentsHelp => "El nivel, las habilidades (ids de categoría), los idiomas y la capacidad deciden a quién reparte el triaje cada conversación.", "Tier, skills (category ids), languages and capacity decide who triage routes each conversation to.";
    RoutingStrategy => "Reparto", "Routing";
    StrategyRoundRobin => "Por turnos", "Round-robin";
    StrategyLeastLoaded => "Al menos cargado", "Least loaded";
    StrategyBestMatch => "Al que mejor encaja", "Best match";
    // clock: business hours, automatic replies, follow-ups, surveys, jobs
    BusinessHours => "Horario comercial", "Business hours";
    HoursSource => "Configuración en vigor", "Settings in force";
    HoursFromAdmin => "guardada aquí", "saved here";
    HoursReset => "Volver al archivo de configuración", "Reset to the config file";
    HoursResetHelp => "Olvida lo guardado aquí: vuelven a regir el horario, las respuestas automáticas y los seguimientos del archivo.", "Forgets what was saved here: the file's hours, automatic replies and follow-ups apply again.";
    HoursResetDone => "Vuelve a regir el archivo de configuración.", "The config file's settings are in force again.";
    HoursNotSaved => "No se guardó:", "Not saved:";
    HoursCalendar => "Calendario", "Calendar";
    HoursPreview => "Vista previa", "Preview";
    WeekChart => "Horario de la semana", "Opening hours of the week";
    NeverOpen => "Nunca abierto", "Never open";
    AlwaysOpen => "Abierto siempre (24/7, sin horario)", "Always open (24/7, no hours)";
    Monday => "Lunes", "Monday";
    Tuesday => "Martes", "Tuesday";
    Wednesday => "Miércoles", "Wednesday";
    Thursday => "Jueves", "Thursday";
    Friday => "Viernes", "Friday";
    Saturday => "Sábado", "Saturday";
    Sunday => "Domingo", "Sunday";
    RangesHelp => "Tramos como 09:00-14:00, 16:00-19:00 separados por comas; vacío: cerrado ese día.", "Ranges like 09:00-14:00, 16:00-19:00, comma-separated; empty: closed that day.";
    ClosedDay => "cerrado", "closed";
    Holidays => "Festivos", "Holidays";
    HolidaysHelp => "Uno por línea: AAAA-MM-DD (una vez) o MM-DD (cada año).", "One per line: YYYY-MM-DD (once) or MM-DD (every year).";
    IcalUpload => "Añadir festivos de un archivo iCal (.ics)", "Add holidays from an iCal file (.ics)";
    IcalHelp => "Los eventos de día completo se añaden a la lista al guardar.", "All-day events are added to the list when you save.";
    IcalAdded => "Festivos añadidos del archivo iCal:", "Holidays added from the iCal file:";
    IcalUnreadable => "No se pudo leer el archivo iCal:", "The iCal file could not be read:";
    TeamCalendarsKept => "Los calendarios de equipos y canales (abajo) se conservan; con «Abierto siempre» se quitan.", "Team and channel calendars (below) are kept; \"Always open\" removes them.";
    AutoReplies => "Respuestas automáticas", "Automatic replies";
    AutoWhenClosed => "Responder al primer mensaje fuera de horario, con la próxima apertura", "Answer the first message when closed, naming the next opening";
    AutoWhenOpen => "Acusar recibo en horario, con el plazo de respuesta", "Acknowledge during open hours, with the expected response time";
    AutoFaq => "Fuera de horario, contestar las preguntas frecuentes con su respuesta guardada", "When closed, answer frequent questions with their canned response";
    AutoWindow => "Como mucho una respuesta automática por conversación cada", "At most one automatic reply per conversation every";
    AutoWindowHelp => "Una duración como 30m, 12h o 1d.", "A duration such as 30m, 12h or 1d.";
    ClosedText => "Texto fuera de horario", "Text when closed";
    OpenText => "Texto en horario", "Text when open";
    BuiltInText => "Vacío: el texto incorporado", "Empty: the built-in text";
    Variables => "Variables", "Variables";
    VarHours => "el horario", "the hours";
    VarNextOpening => "la próxima apertura", "the next opening";
    VarExpected => "el plazo de respuesta", "the expected response time";
    VarSurveyUrl => "el enlace de la encuesta", "the survey link";
    FollowUps => "Seguimiento tras resolver", "Follow-up after resolution";
    FollowupAfter => "Enviar la encuesta de satisfacción tras", "Send the satisfaction survey after";
    FollowupAfterHelp => "Por ejemplo 3 business days, 4 business hours, 2h o 10s; vacío: sin seguimiento.", "For example 3 business days, 4 business hours, 2h or 10s; empty: no follow-up.";
    AskNps => "Preguntar también si nos recomendaría (NPS, 0–10)", "Also ask whether they would recommend us (NPS, 0–10)";
    LinkValid => "El enlace de la encuesta vale durante", "The survey link works for";
    SurveyText => "Mensaje con la encuesta", "Survey message";
    DefaultCalendar => "calendario general", "default calendar";
    SampleMessage => "Mensaje de ejemplo (opcional)", "Sample message (optional)";
    SampleMessageHelp => "¿A qué hora abrís el sábado?", "What time do you open on Saturday?";
    OpenNow => "Abierto ahora", "Open now";
    ClosedNow => "Cerrado ahora", "Closed now";
    NextOpening => "Próxima apertura", "Next opening";
    NoNextOpening => "no hay próxima apertura en el calendario", "the calendar has no next opening";
    WouldAnswer => "Un mensaje que llegara ahora recibiría esta respuesta:", "A message arriving now would be answered:";
    NoAutoReply => "Sin respuesta automática.", "No automatic reply.";
    AutoReplyName => "Respuesta automática", "Automatic reply";
    AutoReasonClosed => "Cerrado", "Closed";
    AutoReasonOpen => "Acuse de recibo", "Acknowledgement";
    AutoReasonFaq => "Pregunta frecuente", "Frequent question";
    Satisfaction => "Satisfacción", "Satisfaction";
    NoSurveysYet => "Aún no se ha enviado ninguna encuesta.", "No survey has been sent yet.";
    CsatPercent => "Clientes satisfechos (4 o 5)", "Satisfied customers (4 or 5)";
    CsatAverage => "Valoración media", "Average rating";
    SurveyAnswers => "Respuestas", "Answers";
    SurveysSent => "Encuestas enviadas", "Surveys sent";
    AnswerRate => "tasa de respuesta", "answer rate";
    Promoters => "promotores", "promoters";
    Detractors => "detractores", "detractors";
    ScheduledJobs => "Tareas programadas", "Scheduled jobs";
    JobsPending => "Pendientes", "Pending";
    JobsManagersOnly => "Solo administración y supervisión ven las tareas programadas.", "Only admins and supervisors see the scheduled jobs.";
    NoJobs => "No hay nada programado.", "Nothing is scheduled.";
    NoMoreJobs => "No hay más tareas.", "No more jobs.";
    FirstPage => "Primera página", "First page";
    JobKind => "Qué", "What";
    JobDue => "Cuándo", "Due";
    ConversationLabel => "Conversación", "Conversation";
    JobDetail => "Detalle", "Detail";
    JobFollowUp => "Seguimiento", "Follow-up";
    JobSnoozeWake => "Fin de posponer", "Snooze ends";
    JobScheduledReply => "Respuesta programada", "Scheduled reply";
    JobCron => "Tarea periódica", "Recurring task";
    JobOther => "Tarea", "Job";
    JobFollowUpDetail => "encuesta de satisfacción", "satisfaction survey";
    JobSnoozeDetail => "vuelve a la bandeja", "back to the inbox";
    PublicReplyLabel => "respuesta pública", "public reply";
    PrivateReplyLabel => "respuesta privada", "private reply";
    JobLateNow => "con retraso", "late";
    CancelJob => "Cancelar", "Cancel";
    JobCancelledFlash => "Tarea cancelada.", "Job cancelled.";
    ScheduledCard => "Programado", "Scheduled";
    NothingScheduled => "Nada programado en esta conversación.", "Nothing scheduled in this conversation.";
    SurveyName => "Encuesta de satisfacción", "Satisfaction survey";
    SurveySentAt => "Enviada", "Sent";
    SurveyWaiting => "esperando respuesta", "waiting for an answer";
    SurveyLinkExpired => "el enlace caducó sin respuesta", "the link expired unanswered";
    SurveyAnswered => "Respondida", "Answered";
    SendLater => "Enviar más tarde", "Send later";
    SendAt => "Enviar el", "Send on";
    Schedule => "Programar", "Schedule";
    SendLaterHint => "Se envía el texto de arriba, público o privado según la pestaña. Sin adjuntos.", "Sends the text above, public or private as the tab says. No attachments.";
    NoteCannotWait => "Las notas internas no se programan: elige Responder o Mensaje privado.", "Internal notes are not scheduled: choose Reply or Private message.";
    LaterNoFiles => "Las respuestas programadas no llevan adjuntos.", "Scheduled replies carry no attachments.";
    PickSendTime => "Elige la fecha y la hora de envío.", "Pick the date and time to send.";
    NotScheduled => "No se programó:", "Not scheduled:";
    SlaWarning => "Aviso de SLA", "SLA warning";
    SlaBreached => "SLA incumplido", "SLA breached";
    SlaTargetFirstResponse => "primera respuesta", "first response";
    SlaTargetResolution => "resolución", "resolution";
    DueAt => "vence el", "due";
    WasDue => "vencía el", "was due";
    SlaPausedLine => "SLA en pausa (pendiente del cliente)", "SLA paused (pending on the customer)";
    SlaResumedLine => "SLA reanudado", "SLA resumed";
    SlaPausedShort => "en pausa", "paused";
    FollowupPlanned => "Seguimiento previsto para el", "Follow-up planned for";
    ScheduledReplyFor => "programó una respuesta para el", "scheduled a reply for";
    SurveySentLine => "Encuesta enviada", "Survey sent";
    CustomerRated => "El cliente valoró", "Customer rated";
    ScheduledReplyCancelled => "Respuesta programada cancelada", "Scheduled reply cancelled";
    FollowupCancelled => "Seguimiento cancelado", "Follow-up cancelled";
    SnoozeWakeCancelled => "Fin de posponer cancelado", "Snooze wake-up cancelled";
    ByPerson => "por", "by";
    ReasonCustomerWrote => "el cliente volvió a escribir", "the customer wrote again";
    ReasonBackEarly => "el cliente escribió: vuelve antes a la bandeja", "the customer wrote: back in the inbox early";
    ReasonReopened => "la conversación se reabrió", "the conversation reopened";
    ReasonNoLongerSnoozed => "ya no está pospuesta", "no longer snoozed";
    FaqWhenClosed => "Respuesta automática fuera de horario", "Automatic answer when closed";
    FaqPhrases => "Frases que la activan", "Phrases that trigger it";
    FaqPlaceholder => "horario, a qué hora abrís, opening hours", "horario, a qué hora abrís, opening hours";
    FaqHelp => "Frases separadas por comas o líneas. Fuera de horario, un mensaje que contenga una recibe esta respuesta. Vacío: no es automática.", "Phrases separated by commas or lines. When closed, a message containing one gets this response. Empty: not automatic.";
    FaqSharedOnly => "Solo las respuestas compartidas con el equipo pueden ser automáticas.", "Only responses shared with the team can be automatic answers.";
    SurveyTitle => "¿Qué tal te atendimos?", "How did we do?";
    SurveyQuestion => "¿Qué tal te atendimos?", "How did we do?";
    SurveyCsatLegend => "¿Cómo valoras la ayuda que recibiste?", "How would you rate the help you got?";
    Csat1 => "Muy mal", "Very bad";
    Csat2 => "Mal", "Bad";
    Csat3 => "Regular", "Okay";
    Csat4 => "Bien", "Good";
    Csat5 => "Muy bien", "Very good";
    SurveyNpsLegend => "¿Qué probabilidad hay de que nos recomiendes a un amigo?", "How likely are you to recommend us to a friend?";
    NpsUnlikely => "nada probable", "not at all likely";
    NpsLikely => "muy probable", "extremely likely";
    SurveyComment => "¿Quieres contarnos algo más? (opcional)", "Anything else you would like to tell us? (optional)";
    SurveySend => "Enviar", "Send";
    SurveyPickRating => "Elige una valoración del 1 al 5.", "Choose a rating from 1 to 5.";
    SurveyThanks => "¡Gracias!", "Thank you!";
    SurveyThanksText => "Hemos recibido tu respuesta. Nos ayuda a mejorar.", "We have your answer. It helps us do better.";
    SurveyAlready => "Esta encuesta ya está respondida", "This survey was already answered";
    SurveyUnknown => "Enlace desconocido o caducado", "Unknown or expired link";
    SurveyUnknownText => "Este enlace de encuesta no existe o ya no es válido.", "This survey link does not exist or is no longer valid.";
    // team and channel calendars, per-channel automatic replies, digest, top-bar badge
    ExtraCalendars => "Calendarios de equipos y canales", "Team and channel calendars";
    WhichCalendar => "Cada conversación sigue el calendario de su canal; si no tiene, el de su equipo; si tampoco, el general.", "A conversation follows its channel's calendar, else its team's, else the default one.";
    NeedDefaultCalendar => "Primero define el calendario general (arriba): los calendarios de equipos y canales se añaden a él.", "Set the default calendar first (above): team and channel calendars are added to it.";
    NoExtraCalendars => "Ningún equipo ni canal tiene calendario propio: todos siguen el general.", "No team or channel has a calendar of its own: all follow the default one.";
    AddCalendar => "Añadir un calendario para un equipo o un canal", "Add a calendar for a team or a channel";
    EditCalendar => "Editar el calendario", "Edit the calendar";
    CalendarFor => "Para", "For";
    NoTeamsForCalendar => "Aún no hay equipos: créalos en Equipos.", "There are no teams yet: create them under Teams.";
    ZoneOfDefault => "Vacío: la del calendario general", "Empty: the default calendar's";
    CancelEdit => "Cancelar", "Cancel";
    PickCalendarTarget => "Elige un equipo o un canal existente.", "Choose an existing team or channel.";
    CalendarRemoved => "Calendario quitado.", "Calendar removed.";
    ChannelAutoReplies => "Por canal", "Per channel";
    ChannelAutoHelp => "Un canal puede cambiar lo anterior: cada opción sigue lo general salvo que la actives o desactives aquí; los textos vacíos usan los generales.", "A channel can change the above: each option follows the general setting unless turned on or off here; empty texts use the general ones.";
    NoChannelAutoReplies => "Ningún canal tiene ajustes propios.", "No channel has settings of its own.";
    AsGeneral => "Como lo general", "As in general";
    On => "Sí", "On";
    Off => "No", "Off";
    OwnTexts => "Textos propios", "Own texts";
    GeneralText => "Vacío: el texto general", "Empty: the general text";
    PickChannel => "Elige un canal configurado.", "Choose a configured channel.";
    ChannelAutoRemoved => "Ajustes del canal quitados.", "Channel settings removed.";
    LatestDigest => "Último resumen", "Latest digest";
    NoDigestYet => "Aún no hay resumen. Se genera con una tarea periódica en el archivo de configuración:", "No digest yet. A recurring task in the config file produces one:";
    DigestManagersOnly => "Solo administración y supervisión ven el resumen.", "Only admins and supervisors see the digest.";
    BadgeOpen => "Abierto", "Open";
    BadgeClosed => "Cerrado", "Closed";
    ClosesToday => "cierra a las", "closes";
    ClosesTomorrow => "cierra mañana a las", "closes tomorrow";
    ClosesOn => "cierra el", "closes";
    OpensToday => "abre a las", "opens";
    OpensTomorrow => "abre mañana a las", "opens tomorrow";
    OpensOn => "abre el", "opens";
    OnMonday => "lunes a las", "Monday";
    OnTuesday => "martes a las", "Tuesday";
    OnWednesday => "miércoles a las", "Wednesday";
    OnThursday => "jueves a las", "Thursday";
    OnFriday => "viernes a las", "Friday";
    OnSaturday => "sábado a las", "Saturday";
    OnSunday => "domingo a las", "Sunday";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_languages() {
        for &k in T::ALL {
            let (es, en) = (t(Lang::Es, k), t(Lang::En, k));
            assert!(!es.is_empty() && !en.is_empty(), "{k:?}");
        }
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h), Lang::Es);
        h.insert(
            "accept-language",
            "en-GB,en;q=0.9,es;q=0.8".parse().unwrap(),
        );
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert(
            "accept-language",
            "fr-FR, es-MX;q=0.7, en;q=0.5".parse().unwrap(),
        );
        assert_eq!(Lang::from_headers(&h), Lang::Es);
        h.insert("accept-language", "de".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::Es);
    }
}
