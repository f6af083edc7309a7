//! Deterministic, realistic support-message corpus used by benchmarks and tests.
//!
//! A [`Corpus`] is an infinite stream of inbound customer messages in Spanish and English
//! over every channel, thread by thread (1–8 messages each, ascending time), written by a
//! pool of recurring customers. Output depends only on `(seed, end_ms)`: the PRNG
//! (SplitMix64), the tables and all arithmetic (integers only) live in this file, so a seed
//! yields the same sequence on every platform and Rust version. Followers and `verified`
//! are only reported on public channels (x, facebook, mastodon); elsewhere they are 0/false.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

/// One generated inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusMessage {
    pub channel: &'static str,
    pub external_id: String,
    pub thread: String,
    pub handle: String,
    pub name: String,
    pub email: Option<String>,
    pub followers: u64,
    pub verified: bool,
    pub language: &'static str,
    pub category: &'static str,
    pub subject: Option<String>,
    pub text: String,
    pub sent_at_ms: i64,
}

const CHANNELS: [&str; 8] = [
    "api", "email", "x", "facebook", "telegram", "mastodon", "whatsapp", "webchat",
];
const CATEGORIES: [&str; 8] = [
    "billing",
    "outage",
    "delivery",
    "sales",
    "thanks",
    "troll",
    "smalltalk",
    "question",
];
const POOL: usize = 3000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const YEAR: i64 = 365 * DAY;
const CATEGORY_W: [u32; 8] = [18, 13, 18, 11, 8, 6, 6, 20];
const PRIMARY_W: [u32; 8] = [8, 28, 18, 12, 5, 4, 13, 12];
/// Channel weights (in `CHANNELS` order) per category (in `CATEGORIES` order).
const CHANNEL_W: [[u32; 8]; 8] = [
    [10, 34, 14, 10, 4, 2, 12, 14],
    [8, 18, 30, 12, 6, 6, 8, 12],
    [8, 30, 16, 12, 4, 2, 16, 12],
    [6, 30, 8, 10, 4, 2, 14, 26],
    [2, 20, 30, 18, 6, 8, 8, 8],
    [0, 2, 55, 25, 4, 12, 0, 2],
    [0, 4, 45, 20, 8, 15, 4, 4],
    [8, 26, 12, 10, 6, 3, 15, 20],
];
/// Thread length (1..=8) weights for complaints, enquiries, pleasantries and trolling.
const LEN_W: [[u32; 8]; 4] = [
    [30, 22, 16, 11, 8, 6, 4, 3],
    [45, 25, 14, 8, 4, 2, 1, 1],
    [70, 22, 8, 0, 0, 0, 0, 0],
    [78, 16, 6, 0, 0, 0, 0, 0],
];
const LEN_GROUP: [usize; 8] = [0, 0, 0, 1, 2, 3, 2, 1];
/// Thread starts per UTC hour.
const HOUR_W: [u32; 24] = [
    4, 3, 2, 2, 2, 3, 6, 12, 18, 22, 22, 21, 19, 20, 21, 20, 18, 17, 16, 15, 13, 11, 8, 6,
];
/// Heavy-tailed followers: tier weights (per mille) and tier bounds.
const FOLLOWER_W: [u32; 7] = [300, 280, 200, 120, 66, 27, 7];
const FOLLOWER_LO: [u64; 8] = [0, 50, 200, 500, 2_000, 10_000, 100_000, 500_001];
/// Handle and email local-part patterns: F/L first/last name, f/l initials, y two digits.
const HANDLES: [&str; 7] = ["F_l", "FL", "F_L", "FLy", "fL", "L_F", "Fy"];
const LOCALS: [&str; 6] = ["F.L", "F.L", "FL", "fL", "F.Ly", "F_l"];

// Sections are `key=item|item|...` separated by `~`; `{x}` are slots filled per thread:
// o order, a amount, d date, n small count, e head count, p product, pl plan, c city,
// g agent, f customer's first name, b brand.
const NEUTRAL: &str = "\
    angry=😡|🤬|😤|🙄|👎~sad=😞|😢|😩|🥲|😕~happy=🙏|😊|❤️|👏|🎉|🙌|💪~neutral=🤔|👀|😅|🙂~mock=🤡|💩|😂|🙄~\
    domain=example.com|example.org|example.net|mail.example.com|correo.example.org|example.com~\
    instance=mastodon.example|social.example.org|masto.example.net|toot.example|fedi.example.com";

const ES_COMMON: &str = "\
    open=Hola,|Hola.|Buenas,|Buenas.|Buenos días,|Buenas tardes.|Hola, buenas.|Hola equipo,|Hola \
    {b},~greet=Hola,|Buenos días,|Buenas tardes,|Estimados señores:|A la atención del servicio \
    al cliente:|Hola, equipo de {b}:~close=Gracias.|Un saludo.|Saludos.|Gracias de antemano.|\
    Quedo a la espera.|Un saludo, {f}.|Gracias, {f}.~sign=Un saludo,|Saludos,|Atentamente,|\
    Gracias,|Saludos cordiales,|Muchas gracias,~fopen=Hola de nuevo.|Buenas otra vez.|Perdonad \
    que insista.|Hola otra vez.|Os escribo otra vez.~first=Ana|José|María|Lucía|Javier|Álvaro|\
    Sofía|Martín|Inés|Íñigo|Begoña|Raúl|Nerea|Sergio|Ángela|Andrés|Marta|Jesús|Irene|Rubén|Paula|\
    Óscar|Elena|Adrián|Carmen|Víctor|Noemí|Hugo|Claudia|Joaquín|Laura|Iván|Belén|Tomás|Nuria|\
    Diego|Rocío|Pablo|Mónica|Ramón|Alba|Germán|Maite|Aitana~last=Pérez|García|Martínez|López|\
    Sánchez|González|Rodríguez|Fernández|Gómez|Díaz|Muñoz|Jiménez|Álvarez|Romero|Navarro|Ruiz|\
    Ibáñez|Domínguez|Vázquez|Ramírez|Gil|Serrano|Molina|Castillo|Ortega|Rubio|Marín|Sanz|Núñez|\
    Iglesias|Medina|Garrido|Cortés|Castro|Suárez|Peña|Vidal|Calvo|León|Herrera|Aguilar|Méndez|\
    Cabrera|Ortiz|Morales|Delgado|Prieto|Ferrer|Echevarría|Zubizarreta~city=Madrid|Barcelona|\
    Valencia|Sevilla|Zaragoza|Málaga|Bilbao|A Coruña|Córdoba|Valladolid|Palma|Alicante|Granada|\
    Cádiz|León|Logroño|Vigo|Gijón|Salamanca|Cáceres~product=router X2|reloj Vela S|altavoz Kora \
    Mini|teclado Brisa|cargador de 65W|patinete Ruta E3|monitor Orion 27|móvil Nordia One|robot \
    aspirador Limpo|disco SSD Nube 1TB~plan=plan Básico|plan Pro|plan Empresa|plan Familia~\
    agent=Lucía|Marcos|Sara|Dani|Elena|Jorge~month=enero|febrero|marzo|abril|mayo|junio|julio|\
    agosto|septiembre|octubre|noviembre|diciembre~mention=@NordiaAyuda~mobile=Enviado desde mi \
    iPhone|Enviado desde mi móvil~urgent=URGENTE: |Reclamación urgente - ";

const EN_COMMON: &str = "\
    open=Hi,|Hi.|Hello,|Hey,|Hey.|Good morning,|Good afternoon.|Hi there,|Hi team,|Hi {b},~\
    greet=Hi,|Hello,|Good morning,|Dear Sir or Madam,|To whom it may concern,|Hi {b} team,~\
    close=Thanks.|Thanks!|Cheers.|Thank you.|Thanks in advance.|Regards, {f}|Thanks, {f}~\
    sign=Regards,|Best regards,|Thanks,|Kind regards,|Best,|Cheers,~fopen=Hi again.|Following \
    up.|Sorry to chase.|Hello again.|Me again.~first=James|Emily|Olivia|Liam|Noah|Emma|Sophie|\
    Jack|Harry|Amelia|Grace|Ethan|Mason|Ava|Lucas|Ella|Daniel|Chloé|Ryan|Megan|Zoë|Renée|Oliver|\
    Isla|Charlotte|George|Hannah|Nathan|Lily|Owen|Ruby|Connor|Priya|Mateo|Seán|Niamh|Siobhán|\
    Chris|Taylor|Jordan|Kevin|Sarah|David|Jessica~last=Smith|Johnson|Williams|Brown|Jones|Miller|\
    Davis|Wilson|Taylor|Anderson|Thomas|Moore|Martin|Jackson|White|Harris|Clark|Lewis|Walker|\
    Hall|Allen|Young|King|Wright|Scott|Green|Baker|Adams|Nelson|Hill|Campbell|Mitchell|Roberts|\
    Carter|Evans|Turner|Murphy|O'Brien|Kelly|Byrne|Patel|Nguyen|Kowalski|Müller|Brontë|Nuñez~\
    city=London|Manchester|Leeds|Bristol|Dublin|Glasgow|New York|Austin|Chicago|Seattle|Boston|\
    Denver|Toronto|Sydney~product=X2 router|Vela S watch|Kora Mini speaker|Brisa keyboard|65W \
    charger|Ruta E3 scooter|Orion 27 monitor|Nordia One phone|Limpo robot vacuum|Nube 1TB SSD~\
    plan=Basic plan|Pro plan|Business plan|Family plan~agent=Sam|Lucy|Tom|Maya|Ben|Chloe~\
    month=January|February|March|April|May|June|July|August|September|October|November|December~\
    mention=@NordiaHelp~mobile=Sent from my iPhone|Sent from my Android phone~urgent=URGENT: |\
    Complaint - ";

const ES_CATS: [&str; 8] = [
    "\
    main=me habéis cobrado dos veces el pedido {o}|me cobraron dos veces {a} en la tarjeta|en el \
    extracto del banco me aparecen dos cargos de {a}|me ha llegado una factura de {a} que no \
    reconozco|me habéis cobrado una comisión de {a} que nadie me explicó|sigo esperando el \
    reembolso de {a} del pedido {o}|di de baja el {pl} y me lo seguís cobrando|la factura de \
    este mes viene con {a} de más|solicité la devolución hace {n} días y el dinero no aparece|me \
    cobraron el envío aunque era gratis|el cargo de {a} del {d} está duplicado|me habéis cobrado \
    el {pl} a precio completo pese a la promoción~detail=Pagué con tarjeta el {d}.|Adjunto \
    captura del extracto.|Ya lo reclamé por teléfono y nadie me ha dado solución.|Es la segunda \
    vez que me pasa.|El número de pedido es {o}.|Tengo el justificante del banco por si lo \
    necesitáis.|No es la primera vez que lo escribo.~ask=Quiero que me devolváis el dinero \
    cuanto antes.|¿Me podéis decir cuándo se hará el reembolso?|Necesito que lo revisen, por \
    favor.|Exijo la devolución del cargo duplicado.|¿Me explicáis de dónde sale ese importe?|Si \
    no se soluciona lo reclamaré a mi banco.~follow=¿Alguna novedad sobre el reembolso?|Sigo sin \
    ver el dinero en mi cuenta.|Han pasado {n} días y nada.|¿Habéis podido revisar el cargo \
    duplicado?|Me vuelve a aparecer el cargo de {a}. Esto es increíble.|Perdón por insistir, \
    pero sigo esperando respuesta.|¿Hola? ¿Hay alguien ahí?~subject=Problema con un cobro|\
    Reclamación: cobro de {a}|Consulta sobre mi factura|Problema con la facturación|Cargo \
    incorrecto~done=Ya me ha llegado la devolución, gracias.|Vale, ya veo el abono en la cuenta. \
    Gracias por la ayuda.|Solucionado, gracias.",
    "\
    main=la app no funciona desde esta mañana|no puedo entrar en mi cuenta, me da error todo el \
    rato|la web está caída otra vez|la app se cierra sola nada más abrirla|llevo {n} horas sin \
    servicio|me sale \"Error 503\" al intentar pagar|no carga nada, ni la web ni la app|el {p} \
    no conecta desde la última actualización|no me llegan los códigos de verificación|la página \
    de pago se queda cargando y no termina nunca|¿está caído el servicio? no me deja hacer nada~\
    detail=Ya he probado a reinstalar la app.|He reiniciado el router y sigue igual.|Me pasa \
    tanto en el móvil como en el ordenador.|Uso Android, la última versión.|Lo necesito para \
    trabajar, es urgente.|A mis compañeros les pasa lo mismo.|El error dice algo de \"timeout\".~\
    ask=¿Sabéis cuándo estará arreglado?|¿Es algo general o solo me pasa a mí?|Necesito una \
    solución ya.|Por favor, avisad cuando se solucione.|¿Me podéis ayudar?~follow=Sigue sin \
    funcionar.|¿Alguna novedad? Sigo igual.|Ahora parece que va, pero muy lento.|Otra vez caído. \
    Esto es un desastre.|Llevamos {n} horas así, ¿nadie dice nada?~subject=La app no funciona|\
    Incidencia técnica|No puedo usar el servicio|Problema urgente con la web|Error en el \
    servicio~done=Ya funciona, gracias por avisar.|Vuelve a funcionar, gracias.|Solucionado, era \
    cosa de la actualización. Gracias.",
    "\
    main=mi pedido {o} todavía no ha llegado|el pedido {o} tenía que llegar el {d} y sigo \
    esperando|el paquete llegó roto|me ha llegado el {p} con la pantalla rajada|el seguimiento \
    del pedido {o} lleva {n} días sin moverse|me han entregado un producto que no es el que pedí|\
    el repartidor dice que lo dejó pero aquí no hay nada|me llegó la caja abierta y falta el \
    cargador|el {p} no enciende, viene defectuoso|pedí el {p} el {d} y aún nada~detail=El número \
    de seguimiento no da ninguna información.|Estuve en casa toda la mañana y nadie llamó al \
    timbre.|Tengo fotos del paquete.|Era un regalo de cumpleaños.|Vivo en {c}, por si sirve de \
    algo.|Ya escribí la semana pasada.~ask=¿Dónde está mi pedido?|Quiero que me lo cambiéis por \
    uno nuevo.|¿Me podéis enviar otro o devolverme el dinero?|¿Cómo hago la devolución?|Necesito \
    una fecha de entrega concreta.~follow=¿Alguna novedad del pedido {o}?|Sigue sin llegar.|El \
    seguimiento sigue igual.|¿Me vais a contestar o no?|Os he mandado las fotos, ¿las habéis \
    recibido?~subject=Pedido {o}|Problema con mi pedido|Reclamación del pedido {o}|Incidencia \
    con la entrega~done=Ya ha llegado, pero la caja venía aplastada.|Por fin ha llegado. \
    Gracias.|Me ha llegado el cambio, todo correcto.",
    "\
    main=¿cuánto cuesta el {pl} al año?|me interesa el {p}, ¿tenéis stock?|¿hacéis descuento \
    para empresas?|querría pedir una demo para mi equipo|¿el {p} está disponible en {c}?|estoy \
    pensando en pasarme al {pl}, ¿qué incluye?|¿tenéis algún descuento para estudiantes?|¿cuándo \
    vuelve a haber stock del {p}?|somos una empresa de unos {e} empleados y queremos información \
    de precios|¿se puede pagar a plazos?~detail=Ahora mismo usamos otra herramienta pero no nos \
    convence.|Lo necesitaríamos antes de fin de mes.|He visto la oferta en Instagram.|Me lo \
    recomendó un amigo.~ask=¿Me podéis pasar un presupuesto?|¿Me llamáis cuando podáis?|Gracias \
    de antemano.|Espero vuestra respuesta.~follow=¿Habéis podido mirar lo del presupuesto?|\
    ¿Alguna novedad sobre la demo?|Perfecto, ¿y el envío cuánto tarda?|Vale, ¿y si contrato {e} \
    licencias?~subject=Consulta comercial|Información de precios|Consulta sobre el {pl}|\
    Presupuesto|Información",
    "\
    main=muchas gracias por la ayuda, ya está todo solucionado|quería daros las gracias a {g}, \
    que me atendió genial|me ha llegado el {p} antes de lo previsto, ¡qué maravilla!|el \
    reembolso ya está en mi cuenta, gracias|sois los mejores, de verdad|da gusto un servicio así|\
    gracias por resolverlo tan rápido~detail=Llevaba días peleándome con esto.|Pocas empresas \
    contestan así de rápido.|Ya os he dejado cinco estrellas.~ask=Seguid así.|Un abrazo al \
    equipo.~follow=Y gracias otra vez, de verdad.|Por cierto, todo funciona perfecto.~\
    subject=Gracias|Agradecimiento|¡Gracias por la ayuda!",
    "\
    main=sois una estafa|vaya basura de empresa|menudos ladrones estáis hechos|el peor servicio \
    que he visto en mi vida|ojalá cerréis pronto|jajaja qué vergüenza de empresa|seguro que ni \
    leéis esto, inútiles|dais pena~detail=Todo el mundo lo sabe.|No compréis nunca aquí.|Ya lo \
    he compartido con todos mis contactos.~ask=Devolvedme mi dinero, payasos.|Dimitid.~follow=Ni \
    contestáis, claro.|Lo que yo decía, unos inútiles.|jajaja seguid así~subject=Vergüenza|ESTAFA",
    "\
    main=¿qué tal el finde, equipo?|buenos días, ¿cómo va ese lunes?|¿tenéis perro en la \
    oficina? he visto una foto en vuestro perfil|¿quién lleva la cuenta hoy?|me encanta el nuevo \
    logo|¿qué música ponéis en la oficina?|feliz viernes a todos|¿también os ha pillado la \
    lluvia en {c}?~detail=Por aquí hace un calor horrible.|Yo ya estoy pensando en las \
    vacaciones.~ask=Que tengáis buen día.|Un saludo a todo el equipo.~follow=Jaja, pues sí.|\
    Gracias por contestar, qué majos.~subject=Un saludo|Hola equipo",
    "\
    main=¿cómo cambio la contraseña?|¿puedo cambiar la dirección de envío del pedido {o}?|¿dónde \
    descargo las facturas?|¿cómo doy de baja el {pl}?|¿el {p} es compatible con iPhone?|¿cuál es \
    el horario de atención?|¿puedo tener dos cuentas con el mismo correo?|¿cómo activo la \
    verificación en dos pasos?|¿cuánto tarda normalmente un envío a {c}?|¿la garantía del {p} \
    cubre la batería?|no encuentro dónde cambiar los datos de facturación~detail=He buscado en \
    la web pero no lo encuentro.|Es para un regalo.|Soy cliente desde hace años.~ask=Gracias.|\
    ¿Me podéis ayudar?|Un saludo.~follow=Perdona, otra duda: ¿y si el pedido ya está enviado?|\
    Vale, ¿y eso se puede hacer desde la app?|Entendido, gracias.|No me aparece esa opción.~\
    subject=Duda sobre mi cuenta|Consulta|Una pregunta|Ayuda, por favor",
];

const EN_CATS: [&str; 8] = [
    "\
    main=I was charged twice for order {o}|you charged my card {a} twice|there are two charges \
    of {a} on my bank statement|I got an invoice for {a} that I don't recognise|there's a {a} \
    fee on my bill that nobody told me about|I'm still waiting for my refund of {a} for order \
    {o}|I cancelled the {pl} and you keep charging me|this month's bill is {a} higher than it \
    should be|I requested a refund {n} days ago and still nothing|you charged me for shipping \
    even though it was supposed to be free|the {a} charge from {d} is a duplicate|I was billed \
    full price for the {pl} despite the promo~detail=I paid by card on {d}.|Screenshot of the \
    statement attached.|I already called and nobody could help.|This is the second time this has \
    happened.|My order number is {o}.|I have the bank receipt if you need it.|I've written about \
    this before.~ask=I want my money back asap.|When will the refund go through?|Please look \
    into this.|Please reverse the duplicate charge.|Can someone explain where that amount comes \
    from?|If this isn't fixed I'll file a chargeback with my bank.~follow=Any update on the \
    refund?|Still no money in my account.|It's been {n} days. Nothing.|Did anyone check the \
    double charge?|The {a} charge showed up AGAIN. Unbelievable.|Sorry, but I'm still waiting \
    for an answer.|Hello? Anyone there?~subject=Problem with a charge|Complaint: {a} charge|\
    Question about my invoice|Billing problem|Incorrect charge~done=Refund just arrived, thanks.|\
    OK, I can see the credit on my account now. Thanks for the help.|Sorted, thanks.",
    "\
    main=the app isn't working since this morning|I can't log in, it keeps throwing an error|\
    your site is down again|the app crashes as soon as I open it|I've had no service for {n} \
    hours|I get \"Error 503\" when I try to pay|nothing loads, not the site and not the app|my \
    {p} won't connect since the last update|I'm not getting the verification codes|checkout just \
    spins forever|is the service down? can't do anything~detail=Already tried reinstalling the \
    app.|Rebooted the router, same thing.|Happens on my phone and my laptop.|I'm on iOS, latest \
    version.|I need this for work, it's urgent.|My coworkers have the same problem.|The error \
    says something about a \"timeout\".~ask=Any ETA on a fix?|Is this a general outage or just \
    me?|I need this fixed now.|Please let us know when it's back.|Can you help?~follow=Still not \
    working.|Any update? Same here.|Seems to work now, but really slow.|Down again. This is a \
    joke.|{n} hours and not a word from you?~subject=App not working|Technical issue|Unable to \
    use the service|Urgent problem with the website|Service error~done=It's working now, thanks \
    for the heads-up.|Back up again, thanks.|Fixed after the update, thanks.",
    "\
    main=my order {o} still hasn't arrived|order {o} was due on {d} and I'm still waiting|the \
    package arrived damaged|my {p} arrived with a cracked screen|tracking for order {o} hasn't \
    moved in {n} days|I received the wrong item|the courier says it was delivered but there's \
    nothing here|the box arrived open and the charger is missing|the {p} won't turn on, it's \
    defective|I ordered the {p} on {d} and still nothing~detail=The tracking number shows no \
    information.|I was home all morning and nobody rang the bell.|I have photos of the package.|\
    It was a birthday present.|I live in {c}, in case that helps.|I already wrote last week.~\
    ask=Where is my order?|I want a replacement.|Can you send another one or refund me?|How do I \
    return it?|I need an actual delivery date.~follow=Any news on order {o}?|Still hasn't \
    arrived.|Tracking still says the same.|Are you going to answer or not?|I sent the photos, \
    did you get them?~subject=Order {o}|Problem with my order|Complaint about order {o}|Delivery \
    issue~done=It finally arrived, but the box was crushed.|Finally arrived. Thanks.|Got the \
    replacement, all good.",
    "\
    main=how much is the {pl} per year?|I'm interested in the {p}, do you have it in stock?|do \
    you offer business discounts?|I'd like to book a demo for my team|is the {p} available in \
    {c}?|thinking of upgrading to the {pl}, what's included?|do you have a student discount?|\
    when will the {p} be back in stock?|we're a company of about {e} people and want pricing \
    info|can I pay in instalments?~detail=We're using another tool right now but we're not happy \
    with it.|We'd need it before the end of the month.|Saw the offer on Instagram.|A friend \
    recommended you.~ask=Could you send me a quote?|Can someone give me a call?|Thanks in \
    advance.|Looking forward to hearing from you.~follow=Did you get a chance to look at the \
    quote?|Any news about the demo?|Great, and how long does shipping take?|OK, and what if we \
    take {e} licenses?~subject=Sales enquiry|Pricing information|Question about the {pl}|Quote \
    request|Information",
    "\
    main=thanks so much for the help, all sorted now|just wanted to say thanks to {g}, who was \
    brilliant|my {p} arrived earlier than expected, love it|the refund is in my account, thank \
    you|you guys are the best, honestly|great service, really|thanks for fixing it so quickly~\
    detail=I'd been fighting with this for days.|Not many companies reply this fast.|Left you a \
    five-star review.~ask=Keep it up.|Cheers to the whole team.~follow=And thanks again, really.|\
    By the way, everything works perfectly.~subject=Thank you|Thanks!|Great service",
    "\
    main=you're a scam|what a garbage company|bunch of thieves|worst service I've ever seen|hope \
    you go bankrupt|lmao what an embarrassing company|bet you don't even read this, clowns|\
    pathetic~detail=Everyone knows it.|Never buy from these people.|Already shared this with \
    everyone I know.~ask=Give me my money back, clowns.|Just shut it down.~follow=No reply, of \
    course.|Told you, useless.|lol keep it up~subject=Disgrace|SCAM",
    "\
    main=how was the weekend, team?|morning! how's Monday treating you?|is that a dog in your \
    office? saw a photo on your profile|who's running the account today?|love the new logo|what \
    music do you play in the office?|happy Friday everyone|did the rain get you in {c} too?~\
    detail=It's boiling here.|Already thinking about my holidays.~ask=Have a great day.|\
    Greetings to the whole team.~follow=Haha, fair enough.|Thanks for replying, you're lovely.~\
    subject=Hello|Hi team",
    "\
    main=how do I change my password?|can I change the shipping address for order {o}?|where can \
    I download my invoices?|how do I cancel the {pl}?|is the {p} compatible with iPhone?|what \
    are your support hours?|can I have two accounts with the same email?|how do I turn on \
    two-factor authentication?|how long does shipping to {c} usually take?|does the {p} warranty \
    cover the battery?|I can't find where to change my billing details~detail=I searched the \
    website but couldn't find it.|It's for a gift.|I've been a customer for years.~ask=Thanks.|\
    Can you help?|Cheers.~follow=Sorry, one more thing: what if the order has already shipped?|\
    OK, can I do that from the app?|Got it, thanks.|I don't see that option.~subject=Question \
    about my account|Question|Quick question|Help, please",
];

type Sections = HashMap<&'static str, Vec<&'static str>>;

struct Lang {
    cat: Vec<Sections>,
    com: Sections,
}

fn sections(s: &'static str) -> Sections {
    let sec = s.split('~').filter_map(|sec| sec.split_once('='));
    sec.map(|(k, v)| (k, v.split('|').collect())).collect()
}

/// Spanish (`true`) or English tables.
fn lang(es: bool) -> &'static Lang {
    static TABLES: OnceLock<[Lang; 2]> = OnceLock::new();
    let build = |com, cats: [&'static str; 8]| {
        let mut com = sections(com);
        com.extend(sections(NEUTRAL));
        Lang {
            cat: cats.into_iter().map(sections).collect(),
            com,
        }
    };
    &TABLES.get_or_init(|| [build(ES_COMMON, ES_CATS), build(EN_COMMON, EN_CATS)])[usize::from(!es)]
}

/// SplitMix64: tiny, fast and fully specified, so sequences never change.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `p` per mille.
    fn pm(&mut self, p: u64) -> bool {
        self.below(1000) < p
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn weighted(&mut self, w: &[u32]) -> usize {
        let mut x = self.below(w.iter().map(|&x| u64::from(x)).sum());
        let pos = w.iter().position(|&wi| {
            x < u64::from(wi) || {
                x -= u64::from(wi);
                false
            }
        });
        pos.unwrap_or(w.len() - 1)
    }
}

struct Customer {
    name: String,
    first: &'static str,
    handle: String,
    email: String,
    phone: String,
    visitor: u64,
    instance: &'static [&'static str],
    followers: u64,
    verified: bool,
    es: bool,
    pound: bool,
    primary: usize,
    /// 0 careful, 1 casual, 2 sloppy.
    style: usize,
    emoji: u64,
    temper: u64,
}

/// A thread and the facts its messages share (same order, amount, product...).
struct Thread {
    key: String,
    cust: usize,
    channel: usize,
    cat: usize,
    len: u32,
    idx: u32,
    t: i64,
    share_email: bool,
    subject: Option<String>,
    order: (char, u64),
    cents: u64,
    n: u64,
    e: u64,
    pick: u64,
    date: i64,
}

/// An infinite, deterministic stream of support messages.
pub struct Corpus {
    rng: Rng,
    seed: u64,
    end_ms: i64,
    customers: Vec<Customer>,
    msg_no: u64,
    thread_no: u64,
    thread: Option<Thread>,
}

impl Corpus {
    /// A corpus for `seed` whose messages fall in the year before `end_ms` (unix ms).
    pub fn new(seed: u64, end_ms: i64) -> Self {
        let (mut r, mut used) = (Rng(seed ^ 0x5EED_C0FF_EE00_0001), HashSet::new());
        let customers = (0..POOL).map(|_| customer(&mut r, &mut used)).collect();
        let rng = Rng(seed.rotate_left(17) ^ 0xA7A1_A7A0_0000_0000);
        Corpus {
            rng,
            seed,
            end_ms,
            customers,
            msg_no: 0,
            thread_no: 0,
            thread: None,
        }
    }

    /// Next message; a thread's 1–8 messages come consecutively, in ascending time.
    pub fn next_message(&mut self) -> CorpusMessage {
        let mut th = match self.thread.take() {
            Some(th) if th.idx < th.len => th,
            _ => self.new_thread(),
        };
        let r = &mut self.rng;
        if th.idx > 0 {
            let mins = [r.range(3, 60), r.range(60, 720), r.range(720, 5760)];
            let gap = mins[r.weighted(&[40, 35, 25])] as i64 * MIN + r.below(MIN as u64) as i64;
            th.t = (th.t + gap).min(self.end_ms - 1);
        }
        let c = &self.customers[th.cust];
        let text = Composer::new(r, &th, c).message();
        let subject = th.subject.as_ref().map(|s| match th.idx {
            0 => s.clone(),
            _ => format!("{}{s}", if r.pm(300) { "RE: " } else { "Re: " }),
        });
        let channel = CHANNELS[th.channel];
        let handle = match channel {
            "email" | "api" => c.email.clone(),
            "whatsapp" => c.phone.clone(),
            "webchat" if th.share_email => c.email.clone(),
            "webchat" => format!("visitor-{:08x}", c.visitor as u32),
            "mastodon" => format!("@{}@{}", c.handle, nth(c.instance, c.visitor)),
            _ => format!("@{}", c.handle),
        };
        let public = matches!(channel, "x" | "facebook" | "mastodon");
        let msg = CorpusMessage {
            channel,
            external_id: format!("c{}-{}", self.seed, self.msg_no),
            thread: th.key.clone(),
            handle,
            name: c.name.clone(),
            email: th.share_email.then(|| c.email.clone()),
            followers: if public { c.followers } else { 0 },
            verified: public && c.verified,
            language: if c.es { "es" } else { "en" },
            category: CATEGORIES[th.cat],
            subject,
            text,
            sent_at_ms: th.t,
        };
        (th.idx, self.msg_no) = (th.idx + 1, self.msg_no + 1);
        self.thread = Some(th);
        msg
    }

    fn new_thread(&mut self) -> Thread {
        let (r, n) = (&mut self.rng, self.customers.len() as u64);
        let regular = r.below(n) + 1; // half the threads favour low indices: regulars
        let bound = if r.pm(500) { n } else { regular };
        let cust = r.below(bound) as usize;
        let c = &self.customers[cust];
        let (cat, lo) = (r.weighted(&CATEGORY_W), self.end_ms - YEAR);
        let w = &CHANNEL_W[cat];
        let keep = r.pm(600) && w[c.primary] >= 8; // customers mostly stick to one channel
        let channel = if keep { c.primary } else { r.weighted(w) };
        let t = loop {
            let day = lo.div_euclid(DAY) + r.below(366) as i64;
            let t = day * DAY + r.weighted(&HOUR_W) as i64 * HOUR + r.below(HOUR as u64) as i64;
            if (lo..self.end_ms).contains(&t) {
                break t;
            }
        };
        let cents = [
            r.range(3, 99) * 100 + 99,
            r.range(300, 9_999),
            r.range(10_000, 199_999),
        ];
        let letter = *r.pick(b"ABCDEFGHKLMNPRSTUVWXYZ") as char;
        let mut th = Thread {
            key: format!("c{}-t{}", self.seed, self.thread_no),
            cust,
            channel,
            cat,
            len: r.weighted(&LEN_W[LEN_GROUP[cat]]) as u32 + 1,
            idx: 0,
            t,
            share_email: r.pm(match CHANNELS[channel] {
                "email" | "api" => 1000,
                "webchat" => 550,
                "whatsapp" => 150,
                _ => 120,
            }),
            subject: None,
            order: (letter, r.range(1000, 99_999)),
            cents: cents[r.weighted(&[45, 20, 35])],
            n: r.range(2, 15),
            e: *r.pick(&[5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 80, 100, 150, 200, 500]),
            pick: r.next(),
            date: t.div_euclid(DAY) - r.range(1, 14) as i64,
        };
        self.thread_no += 1;
        if CHANNELS[channel] == "email" {
            th.subject = Some(Composer::new(r, &th, c).subject());
        }
        th
    }
}

impl Iterator for Corpus {
    type Item = CorpusMessage;
    fn next(&mut self) -> Option<CorpusMessage> {
        Some(self.next_message())
    }
}

/// The first `n` messages of `Corpus::new(seed, end_ms)`.
pub fn generate(seed: u64, end_ms: i64, n: usize) -> Vec<CorpusMessage> {
    Corpus::new(seed, end_ms).take(n).collect()
}

fn nth(v: &[&'static str], i: u64) -> &'static str {
    v[(i % v.len() as u64) as usize]
}

fn customer(r: &mut Rng, used: &mut HashSet<String>) -> Customer {
    let es = r.pm(600);
    let names_es = if r.pm(60) { !es } else { es };
    let com = &lang(names_es).com;
    let (first, last) = (*r.pick(&com["first"]), *r.pick(&com["last"]));
    let last2 = r.pick(&com["last"]);
    let name = match names_es && r.pm(300) {
        true => format!("{first} {last} {last2}"),
        false => format!("{first} {last}"),
    };
    let (f, l) = (ascii_lower(first), ascii_lower(last));
    let yy = (r.below(40) + 70) % 100;
    let pattern = |p: &str, max: usize| {
        let mut s = String::new();
        for ch in p.chars() {
            let _ = match ch {
                'F' | 'L' => s.write_str(if ch == 'F' { &f } else { &l }),
                'f' | 'l' => s.write_str(if ch == 'f' { &f[..1] } else { &l[..1] }),
                'y' => write!(s, "{yy:02}"),
                _ => s.write_char(ch),
            };
        }
        s.chars().take(max).collect::<String>()
    };
    let (hp, lp) = (*r.pick(&HANDLES), *r.pick(&LOCALS));
    let (handle, local) = (pattern(hp, 14), pattern(lp, 40));
    let domain = format!("@{}", r.pick(&com["domain"]));
    let pound = !es && r.pm(450);
    let phone = match (es, pound) {
        (true, _) => format!("+346{:08}", r.below(100_000_000)),
        (_, true) => format!("+447{:09}", r.below(1_000_000_000)),
        _ => format!("+1{}555{:04}", r.range(201, 989), r.below(10_000)),
    };
    let tier = r.weighted(&FOLLOWER_W);
    let span = r.below(FOLLOWER_LO[tier + 1] - FOLLOWER_LO[tier]);
    let followers = FOLLOWER_LO[tier] + r.below(span + 1); // skewed to the tier's low end
    Customer {
        name,
        first,
        handle: unique(used, r, &handle, ""),
        email: unique(used, r, &local, &domain),
        phone: unique(used, r, &phone, ""),
        visitor: r.next(),
        instance: com["instance"].as_slice(),
        followers,
        verified: r.pm([2, 2, 2, 2, 20, 150, 600][tier]),
        es,
        pound,
        primary: r.weighted(&PRIMARY_W),
        style: r.weighted(&[45, 38, 17]),
        emoji: [r.below(50), r.range(100, 300), r.range(400, 800)][r.weighted(&[4, 4, 2])],
        temper: [0, r.below(60), r.below(200)][r.weighted(&[3, 5, 2])],
    }
}

/// `base + tail`, with digits inserted before `tail` until it is unused.
fn unique(used: &mut HashSet<String>, r: &mut Rng, base: &str, tail: &str) -> String {
    let mut s = format!("{base}{tail}");
    while !used.insert(s.clone()) {
        s = format!("{base}{}{tail}", r.below(10_000));
    }
    s
}

/// Builds a message sentence by sentence, filling `{slot}`s from the thread.
struct Composer<'a> {
    rng: &'a mut Rng,
    th: &'a Thread,
    c: &'a Customer,
    l: &'static Lang,
    s: String,
    start: bool,
}

impl<'a> Composer<'a> {
    fn new(rng: &'a mut Rng, th: &'a Thread, c: &'a Customer) -> Self {
        Composer {
            rng,
            th,
            c,
            l: lang(c.es),
            s: String::with_capacity(256),
            start: true,
        }
    }

    fn any(&mut self, key: &str) -> &'static str {
        let (l, th) = (self.l, self.th);
        let v = l.cat[th.cat]
            .get(key)
            .or_else(|| l.com.get(key))
            .expect("known section");
        // Follow-ups rotate so that a thread does not repeat itself.
        let rotate = (th.pick >> 40) + u64::from(th.idx);
        nth(
            v,
            if key == "follow" {
                rotate
            } else {
                self.rng.next()
            },
        )
    }

    /// Appends a sentence from section `key`, capitalized at a sentence start and ended with
    /// `end` unless already punctuated.
    fn say(&mut self, key: &str, end: &str) {
        if !self.s.is_empty() && !self.s.ends_with(char::is_whitespace) {
            self.s.push(' ');
        }
        let (at, tpl) = (self.s.len(), self.any(key));
        self.fill(tpl);
        if self.start && self.c.style < 2 {
            capitalize(&mut self.s, at);
        }
        if !self.s.ends_with(['.', '!', '?', ':', ',']) {
            self.s.push_str(end);
        }
        self.start = self.s.ends_with(['.', '!', '?', ':']);
    }

    fn fill(&mut self, tpl: &str) {
        let mut rest = tpl;
        while let Some((head, tail)) = rest.split_once('{') {
            let (key, after) = tail.split_once('}').unwrap_or((tail, ""));
            self.s.push_str(head);
            self.slot(key);
            rest = after;
        }
        self.s.push_str(rest);
    }

    fn slot(&mut self, key: &str) {
        let (th, c, com, s) = (self.th, self.c, &self.l.com, &mut self.s);
        let ((letter, num), es, pick) = (th.order, c.es, |k: &str, i| nth(&com[k], th.pick >> i));
        let _ = match key {
            "o" => match self.rng.below(10) {
                0..=6 => write!(s, "#{letter}-{num}"),
                7 | 8 => write!(s, "{letter}-{num}"),
                _ => write!(s, "{letter}{num}"),
            },
            "a" => {
                let (units, cents) = (th.cents / 100, th.cents % 100);
                let sep = if es { '.' } else { ',' };
                if !es {
                    s.push(if c.pound { '£' } else { '$' });
                }
                let _ = match units {
                    1000.. => write!(s, "{}{sep}{:03}", units / 1000, units % 1000),
                    _ => write!(s, "{units}"),
                };
                let euro = ["€", " €", " €", " euros"][(th.pick >> 32) as usize % 4];
                if es {
                    write!(s, ",{cents:02}{euro}")
                } else {
                    write!(s, ".{cents:02}")
                }
            }
            "d" => {
                let (m, d) = month_day(th.date);
                let month = com["month"][m as usize - 1];
                match (es, c.style == 2, c.pound) {
                    (true, true, _) | (false, true, true) => write!(s, "{d}/{m}"),
                    (false, true, false) => write!(s, "{m}/{d}"),
                    (true, false, _) => write!(s, "{d} de {month}"),
                    (false, false, true) => write!(s, "{d} {month}"),
                    (false, false, false) => write!(s, "{month} {d}"),
                }
            }
            "n" => write!(s, "{}", th.n),
            "e" => write!(s, "{}", th.e),
            "p" => s.write_str(pick("product", 0)),
            "pl" => s.write_str(pick("plan", 8)),
            "c" => s.write_str(pick("city", 16)),
            "g" => s.write_str(pick("agent", 24)),
            "f" => s.write_str(c.first),
            "b" => s.write_str("Nordia"),
            _ => write!(s, "{{{key}}}"),
        };
    }

    fn subject(mut self) -> String {
        if self.th.cat <= 2 && self.rng.pm(60) {
            let urgent = self.any("urgent");
            self.s.push_str(urgent);
        }
        let tpl = self.any("subject");
        self.fill(tpl);
        capitalize(&mut self.s, 0);
        self.s
    }

    fn message(mut self) -> String {
        let (th, c, channel, cat) = (self.th, self.c, CHANNELS[self.th.channel], self.th.cat);
        let (email, first) = (channel == "email", th.idx == 0);
        let (troll, complaint) = (cat == 5, cat <= 2);
        if email && (first || self.rng.pm(400)) {
            self.say("greet", "");
            self.s.push_str("\n\n");
            self.start = true;
        } else if matches!(channel, "x" | "mastodon") && self.rng.pm(250 + 250 * first as u64) {
            let mention = self.any("mention");
            self.s.push_str(mention);
            if channel == "mastodon" {
                self.s.push_str("@mastodon.example");
            }
        }
        let open = match (troll, email, first) {
            (true, ..) => 30,
            (_, true, _) => 0,
            (_, _, false) if matches!(cat, 4 | 6) => 0, // no "following up" on pleasantries
            (_, _, true) if matches!(channel, "webchat" | "whatsapp" | "api") => 600,
            _ => 330,
        };
        if self.rng.pm(open) {
            self.say(if first { "open" } else { "fopen" }, "");
        }
        let anger = c.temper + 60 * u64::from(th.idx);
        let done = complaint && !first && th.idx + 1 == th.len && self.rng.pm(300);
        let angry =
            !done && ((complaint && self.rng.pm(150 + anger)) || (troll && self.rng.pm(500)));
        let end = match (angry, c.style == 2 && !email && self.rng.pm(500)) {
            (_, true) => "",
            (true, _) => *self.rng.pick(&["!", "!!", "!!!", "...", "!"]),
            _ => ".",
        };
        self.say(
            if first {
                "main"
            } else if done {
                "done"
            } else {
                "follow"
            },
            end,
        );
        let (detail, ask) = [(120, 200), (300, 450), (300, 300), (700, 750)]
            [usize::from(first) + 2 * usize::from(email)];
        if self.rng.pm(detail) {
            self.say("detail", ".");
        }
        if self.rng.pm(ask) {
            if email && self.rng.pm(400) {
                self.s.push_str("\n\n");
                self.start = true;
            }
            self.say("ask", ".");
        }
        if !email && !troll && self.rng.pm(180) {
            self.say("close", "");
        }
        if self.rng.pm(if email { c.emoji / 6 } else { c.emoji }) {
            let mood = match CATEGORIES[cat] {
                _ if angry => "angry",
                "thanks" => "happy",
                "troll" => "mock",
                _ if complaint => "sad",
                _ => *self.rng.pick(&["happy", "happy", "neutral"]),
            };
            let emoji = self.any(mood);
            let reps = 1 + usize::from(angry) * self.rng.below(3) as usize;
            if !self.s.ends_with(char::is_whitespace) {
                self.s.push(' ');
            }
            self.s.push_str(&emoji.repeat(reps));
        }
        let Composer { rng, mut s, l, .. } = self;
        if c.es && rng.pm([0, 450, 900][c.style]) {
            s = strip_accents(&s, c.style == 1 && rng.pm(500));
        }
        if c.style == 2 && rng.pm(600) {
            s = abbreviate(&s, c.es);
        }
        if rng.pm([15, 60, 200][c.style]) {
            typo(&mut s, rng);
        }
        let caps = match cat {
            5 => 250,
            _ if complaint && !done => 10 + anger / 3 + 20 * u64::from(th.idx),
            _ => 3,
        };
        if rng.pm(caps) {
            s = s.to_uppercase();
        }
        if email {
            s.push_str("\n\n");
            if rng.pm(700) {
                let _ = writeln!(s, "{}", rng.pick(&l.com["sign"]));
            }
            s.push_str(if rng.pm(600) { &c.name } else { c.first });
            if rng.pm(80) {
                let _ = write!(s, "\n\n{}", rng.pick(&l.com["mobile"]));
            }
        }
        s
    }
}

/// Uppercases the first alphanumeric character at or after byte `at`.
fn capitalize(s: &mut String, at: usize) {
    if let Some((i, ch)) = s[at..].char_indices().find(|(_, ch)| ch.is_alphanumeric()) {
        let up: String = ch.to_uppercase().collect();
        s.replace_range(at + i..at + i + ch.len_utf8(), &up);
    }
}

const ACCENTED: &str = "áàâäéèêëíìîïóòôöúùûüçÁÉÍÓÚÜÑñ";
const PLAIN: &str = "aaaaeeeeiiiioooouuuucAEIOUUNn";

fn fold(ch: char, keep_enye: bool) -> char {
    if ch.is_ascii() || (keep_enye && matches!(ch, 'ñ' | 'Ñ')) {
        return ch;
    }
    let hit = ACCENTED.chars().zip(PLAIN.chars()).find(|&(a, _)| a == ch);
    hit.map_or(ch, |(_, plain)| plain)
}

/// Lowercase ASCII letters only: "Ibáñez" → "ibanez", "O'Brien" → "obrien".
fn ascii_lower(s: &str) -> String {
    let folded = strip_accents(&s.to_lowercase(), false);
    folded.chars().filter(char::is_ascii_alphabetic).collect()
}

/// Casual Spanish: no accents and no opening ¿ ¡ ("facturacion", "llego").
fn strip_accents(s: &str, keep_enye: bool) -> String {
    let kept = s.chars().filter(|c| !matches!(c, '¿' | '¡'));
    kept.map(|c| fold(c, keep_enye)).collect()
}

/// Texting abbreviations ("q", "xq", "u", "pls").
fn abbreviate(s: &str, es: bool) -> String {
    let map = match es {
        true => "que=q qué=q porque=xq también=tb para=pa",
        false => "you=u your=ur please=pls thanks=thx I'm=im",
    };
    let words = s.split(' ').map(|w| {
        let core = w.trim_end_matches(|c: char| !c.is_alphanumeric());
        let short = map
            .split(' ')
            .filter_map(|p| p.split_once('='))
            .find(|(l, _)| *l == core);
        short.map_or(w.to_string(), |(_, short)| {
            short.to_string() + &w[core.len()..]
        })
    });
    words.collect::<Vec<_>>().join(" ")
}

/// Swaps or drops one ASCII letter inside a word.
fn typo(s: &mut String, r: &mut Rng) {
    let b = s.as_bytes();
    let ok = |i: usize| b[i - 1..i + 2].iter().all(u8::is_ascii_lowercase) && b[i] != b[i + 1];
    let found = match b.len() {
        0..4 => None,
        len => (0..6)
            .map(|_| 1 + r.below(len as u64 - 2) as usize)
            .find(|&i| ok(i)),
    };
    if let Some(i) = found {
        let swapped = format!("{}{}", b[i + 1] as char, b[i] as char);
        if r.pm(500) {
            s.replace_range(i..i + 2, &swapped);
        } else {
            s.remove(i);
        }
    }
}

/// (month, day) of a day count since 1970-01-01 (proleptic Gregorian).
fn month_day(days: i64) -> (i64, i64) {
    let doe = (days + 719_468).rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (month, doy - (153 * mp + 2) / 5 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn threads(msgs: &[CorpusMessage]) -> Vec<&[CorpusMessage]> {
        msgs.chunk_by(|a, b| a.thread == b.thread).collect()
    }

    #[test]
    fn deterministic_per_seed() {
        assert_eq!(generate(42, END, 3000), generate(42, END, 3000));
        assert_ne!(generate(42, END, 200), generate(43, END, 200));
        assert_eq!(
            Corpus::new(7, END).take(500).collect::<Vec<_>>(),
            generate(7, END, 500)
        );
    }

    #[test]
    fn ids_threads_and_timestamps() {
        let msgs = generate(1, END, 20_000);
        let ids: HashSet<&str> = msgs.iter().map(|m| m.external_id.as_str()).collect();
        assert_eq!(ids.len(), msgs.len());
        let ts = threads(&msgs);
        let keys: HashSet<&str> = ts.iter().map(|t| t[0].thread.as_str()).collect();
        assert_eq!(
            keys.len(),
            ts.len(),
            "a thread's messages must be consecutive"
        );
        for t in &ts {
            assert!((1..=8).contains(&t.len()), "thread of {}", t.len());
            assert!(t.windows(2).all(|w| w[0].sent_at_ms <= w[1].sent_at_ms));
            assert!(
                t.iter()
                    .all(|m| (m.category, m.channel) == (t[0].category, t[0].channel))
            );
        }
        assert!(
            ts.iter().any(|t| t.len() >= 5)
                && ts.iter().filter(|t| t.len() == 1).count() > ts.len() / 4
        );
        assert!(
            msgs.iter()
                .all(|m| (END - YEAR..END).contains(&m.sent_at_ms))
        );
    }

    #[test]
    fn languages_categories_channels_and_fields() {
        let msgs = generate(2, END, 20_000);
        let es = msgs.iter().filter(|m| m.language == "es").count() as f64 / msgs.len() as f64;
        assert!((0.5..0.7).contains(&es), "es share {es}");
        assert!(
            msgs.iter()
                .all(|m| m.language == "es" || m.language == "en")
        );
        assert!(
            CATEGORIES
                .iter()
                .all(|c| msgs.iter().any(|m| m.category == *c))
        );
        assert!(
            CHANNELS
                .iter()
                .all(|c| msgs.iter().any(|m| m.channel == *c))
        );
        for m in &msgs {
            assert_eq!(m.subject.is_some(), m.channel == "email");
            assert!(
                !m.text.trim().is_empty() && !m.text.contains('{'),
                "{:?}",
                m.text
            );
            assert!(m.email.as_ref().is_none_or(|e| e.contains('@')));
        }
    }

    #[test]
    fn followers_heavy_tailed_and_customers_recur() {
        let msgs = generate(4, END, 20_000);
        let mut f: Vec<u64> = msgs
            .iter()
            .filter(|m| m.channel == "x")
            .map(|m| m.followers)
            .collect();
        f.sort_unstable();
        assert!(f[f.len() / 2] < 1000, "median {}", f[f.len() / 2]);
        assert!(f.iter().any(|&x| x > 10_000));
        let mut channels_per_email = HashMap::<&str, HashSet<&str>>::new();
        let mut threads_per_handle = HashMap::<&str, usize>::new();
        for t in threads(&msgs) {
            *threads_per_handle.entry(t[0].handle.as_str()).or_default() += 1;
            if let Some(e) = &t[0].email {
                channels_per_email
                    .entry(e)
                    .or_default()
                    .insert(t[0].channel);
            }
        }
        assert!(
            threads_per_handle.values().any(|&n| n >= 4),
            "regulars write several threads"
        );
        assert!(
            channels_per_email.values().any(|c| c.len() >= 3),
            "cross-channel customers"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(month_day(0), (1, 1));
        assert_eq!(month_day(END / DAY), (1, 1));
        assert_eq!(month_day(END / DAY - 1), (12, 31));
        assert_eq!(month_day(19_782), (2, 29)); // 2024-02-29
    }
}
